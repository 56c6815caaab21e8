"""Plan windows: the calendar periods of budgets, or rolling durations ("5h", "1m", "7d").

A calendar window ("day", "week", "month") resets at its UTC boundary, as a free tier's daily
quota does; a rolling one counts what happened in the last N seconds, as a subscription's
"per 5 hours" window or a per-minute rate limit does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tierd.costs.periods import PERIODS, period_bounds
from tierd.errors import TierdError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_NAMED = {"minute": 60, "hour": 3600}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


class BadWindow(TierdError):
    """A window that is neither a calendar period nor a duration."""


@dataclass(frozen=True)
class Window:
    text: str
    period: str | None = None
    """"day" | "week" | "month" for a calendar window."""
    seconds: float = 0.0
    """The length of a rolling window."""

    def start(self, now: float) -> float:
        """The earliest moment whose calls count against the window at `now`."""
        if self.period is not None:
            return period_bounds(self.period, now)[0]
        return now - self.seconds

    def calendar_reset(self, now: float) -> float | None:
        """When a calendar window starts afresh; None for a rolling one."""
        return period_bounds(self.period, now)[1] if self.period is not None else None


def parse_window(text: str) -> Window:
    """ "day"/"week"/"month", "minute"/"hour", or a duration: "30s", "5h", "7d", "1w"."""
    word = text.strip().lower()
    if word in PERIODS:
        return Window(text, period=word)
    if word in _NAMED:
        return Window(text, seconds=float(_NAMED[word]))
    match = _DURATION.fullmatch(word)
    if match is None:
        raise BadWindow(f"{text!r} is not a window: use day, week or month (UTC calendar), "
                        'minute, hour, or a duration such as "30s", "5h", "7d"')
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise BadWindow(f"{text!r} is not a window: it must last more than 0 seconds")
    return Window(text, seconds=seconds)
