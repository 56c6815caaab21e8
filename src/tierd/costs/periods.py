"""Budget and report periods: the current UTC day, week (from Monday) or month."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tierd.errors import TierdError

PERIODS = ("day", "week", "month")


def check_period(period: str) -> str:
    if period not in PERIODS:
        raise TierdError(f"period: {period!r} is not one of {', '.join(PERIODS)}")
    return period


def period_bounds(period: str, now: float) -> tuple[float, float]:
    """[start, end) of the period holding `now`, as Unix times.

    UTC, so a budget resets at the same instant for the daemon, the CLI and the person reading
    the bill, whatever the machine's time zone.
    """
    check_period(period)
    moment = datetime.fromtimestamp(now, timezone.utc)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        start, end = day, day + timedelta(days=1)
    elif period == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(weeks=1)
    else:
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    return start.timestamp(), end.timestamp()


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds").replace(
        "+00:00", "Z")
