"""Plans and quotas, rate-limit windows, the loop breaker and the economics config, in-process
over a real state database (the HTTP tests are in test_economics.py)."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from tests.conftest import run_tierd, state_conn
from tierd.config import LoopBreakerConfig, parse_text
from tierd.costs.ledger import CallRecord
from tierd.costs.plans import QuotaExhausted
from tierd.costs.service import open_costs
from tierd.costs.windows import BadWindow, parse_window
from tierd.errors import ConfigError
from tierd.routing.loops import LoopBreaker, LoopDetected
from tierd.routing.rate_windows import RateWindows
from tierd.runtimes.limit_headers import duration_s, limit_headers, read_rate_limits

PROVIDERS = """
[[providers]]
name = "gemini"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "GEMINI_API_KEY"
models = ["gemini-2.5-flash", "gemini-2.5-pro"]
[[providers]]
name = "codex"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "OPENAI_API_KEY"
models = ["gpt-5-codex"]
"""


def costs_with(tmp_path, plans: str):
    config = parse_text(f'state_dir = "{tmp_path}"\n{PROVIDERS}{plans}')
    return open_costs(config, state_conn(tmp_path / "state.db"))


def call(provider: str, model: str, tokens: int = 100, cost: float = 0.0) -> CallRecord:
    return CallRecord(uuid.uuid4().hex, "extract", "cheap", provider, model, "", tokens, 0,
                      cost, 5.0, 1.0, None, False, "ok")


def test_windows_parse():
    assert parse_window("day").period == "day"
    assert parse_window("5h").seconds == 18_000
    assert parse_window("minute").seconds == 60
    assert parse_window("1.5m").seconds == 90
    for bad in ("fortnight", "5 hours", "0s", "-3h", ""):
        with pytest.raises(BadWindow):
            parse_window(bad)


def test_a_free_tier_is_free_until_its_quota_and_then_refused_until_the_reset(tmp_path):
    costs = costs_with(tmp_path, """
[[plans]]
provider = "gemini"
models = ["gemini-2.5-flash"]
kind = "free_tier"
[[plans.limits]]
requests = 2
per = "day"
""")
    budgets = costs.budgets
    for _ in range(2):
        reservation = budgets.reserve("gemini", "cheap", 0.01, model="gemini-2.5-flash",
                                      tokens=100)
        assert (reservation.coverage.plan, reservation.coverage.free, reservation.usd) == (
            "free_tier", True, 0.0)
        reservation.settle(call("gemini", "gemini-2.5-flash"))
    with pytest.raises(QuotaExhausted, match=r"2/2 requests per day.*skipped until "
                                             r"\d{4}-\d\d-\d\dT00:00:00Z") as caught:
        budgets.reserve("gemini", "cheap", 0.01, model="gemini-2.5-flash")
    assert caught.value.http_status == 429 and caught.value.retry_after > 0
    # The plan covers only its own model: the provider's other one is billed per token.
    paid = budgets.reserve("gemini", "cheap", 0.01, model="gemini-2.5-pro")
    assert (paid.coverage.plan, paid.usd) == ("", 0.01)
    paid.cancel()
    # Tomorrow the quota starts afresh: the rows of yesterday no longer count (a calendar
    # window reads the running totals, which move back a day with them).
    with costs.ledger.write() as conn:
        conn.execute("UPDATE calls SET ts = ts - 86400")
        conn.execute("UPDATE call_totals SET day = day - 86400")
    budgets.reserve("gemini", "cheap", 0.01, model="gemini-2.5-flash").cancel()


def test_a_rolling_window_reopens_when_its_oldest_call_ages_out(tmp_path):
    costs = costs_with(tmp_path, """
[[plans]]
provider = "codex"
kind = "flat"
monthly_fee = 200.0
[[plans.limits]]
tokens = 1000
per = "5h"
""")
    ledger = costs.ledger
    now = time.time()
    ledger.record(call("codex", "gpt-5-codex", tokens=600), at=now - 4 * 3600)
    ledger.record(call("codex", "gpt-5-codex", tokens=500), at=now - 3600)
    judged = costs.budgets.judge("codex", "gpt-5-codex")
    assert isinstance(judged, QuotaExhausted)
    assert "1100/1000 tokens per 5h" in str(judged)
    # Room comes back when the 600-token call leaves the window, an hour from now.
    assert judged.resets_at == pytest.approx(now + 3600, abs=2)
    with ledger.write() as conn:
        conn.execute("UPDATE calls SET ts = ts - 3601")
    covered = costs.budgets.judge("codex", "gpt-5-codex")
    assert covered.plan == "flat" and covered.free
    assert costs.plans.fees("month") == 200.0
    assert costs.plans.fees("day") == pytest.approx(200 / (365.25 / 12))


def test_past_its_quota_a_billing_plan_serves_at_list_price(tmp_path):
    costs = costs_with(tmp_path, """
[[plans]]
provider = "gemini"
kind = "free_tier"
over = "bill"
[[plans.limits]]
requests = 1
per = "minute"
""")
    first = costs.budgets.reserve("gemini", "cheap", 0.02, model="gemini-2.5-flash")
    assert first.usd == 0.0
    second = costs.budgets.reserve("gemini", "cheap", 0.02, model="gemini-2.5-flash")
    assert (second.coverage.plan, second.coverage.free, second.usd) == ("over_quota", False,
                                                                        0.02)


def test_fifty_concurrent_calls_never_take_more_than_the_quota(tmp_path):
    """All fifty start before any settles: the calls in flight count against the quota."""
    costs = costs_with(tmp_path, """
[[plans]]
provider = "gemini"
kind = "free_tier"
[[plans.limits]]
requests = 5
per = "day"
""")
    start = threading.Barrier(50)
    admitted, refused = [], []

    def one(_: int) -> None:
        start.wait()
        try:
            reservation = costs.budgets.reserve("gemini", "cheap", 0.01,
                                                model="gemini-2.5-flash", tokens=10)
        except QuotaExhausted:
            refused.append(1)
            return
        admitted.append(reservation)  # still in flight: nothing settled yet

    threads = [threading.Thread(target=one, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(admitted), len(refused)) == (5, 45)
    for reservation in admitted:
        reservation.settle(call("gemini", "gemini-2.5-flash"))
    assert costs.ledger.summary("day")["calls"] == 5
    with pytest.raises(QuotaExhausted):
        costs.budgets.reserve("gemini", "cheap", 0.01, model="gemini-2.5-flash")


def test_rate_limit_headers_and_bodies():
    now = time.time()
    assert duration_s("6m0s") == 360 and duration_s("20ms") == 0.02
    assert duration_s("1h2m3.5s") == 3723.5 and duration_s("soon") is None
    report = read_rate_limits({"x-ratelimit-remaining-requests": "0",
                               "x-ratelimit-reset-requests": "30s",
                               "x-ratelimit-remaining-tokens": "5000",
                               "x-ratelimit-reset-tokens": "2s"}, now)
    assert (report.exhausted_for, report.retry_after) == (30.0, None)
    assert read_rate_limits({"retry-after": "12"}, now).retry_after == 12.0
    assert read_rate_limits({"retry-after-ms": "1500"}, now).retry_after == 1.5
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 20))
    assert 18 <= read_rate_limits({"retry-after": date}, now).retry_after <= 20
    body = '{"error": {"message": "Rate limit reached. Please try again in 1m30s."}}'
    assert read_rate_limits({}, now, body).retry_after == 90.0
    assert read_rate_limits({"x-ratelimit-remaining-requests": "3",
                             "x-ratelimit-reset-requests": "30s"}, now).exhausted_for is None


def test_rate_limit_headers_read_from_a_replys_raw_headers_as_from_httpx():
    import httpx

    now = time.time()
    raw = [(b"Content-Type", b"text/event-stream"), (b"X-RateLimit-Remaining-Requests", b"0"),
           (b"x-ratelimit-reset-requests", b"30s"), (b"Anthropic-Ratelimit-Tokens-Remaining", b"0"),
           (b"anthropic-ratelimit-tokens-reset",
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 50)).encode()),
           (b"Retry-After", b"7"), (b"retry-after", b"9"), (b"Retry-After-Ms", b"x")]
    picked = limit_headers(raw)
    assert "content-type" not in picked and picked["retry-after"] == "7, 9"
    assert read_rate_limits(picked, now) == read_rate_limits(httpx.Headers(raw), now)
    assert 48 <= read_rate_limits(picked, now).exhausted_for <= 50


def test_a_window_closed_for_30s_stays_closed_30s_not_less():
    clock = [100.0]
    windows = RateWindows(clock=lambda: clock[0])
    windows.close("gemini/gemini-2.5-flash", 30.0, "the provider answered 429")
    windows.close("gemini/gemini-2.5-flash", 5.0, "a shorter one never shortens it")
    clock[0] = 129.9
    left, why = windows.closed("gemini/gemini-2.5-flash")
    assert left == pytest.approx(0.1) and why == "the provider answered 429"
    clock[0] = 130.0
    assert windows.closed("gemini/gemini-2.5-flash") == (0.0, "")


def test_the_default_loop_breaker_stops_a_three_second_cascade():
    clock = [0.0]
    breaker = LoopBreaker(LoopBreakerConfig(), clock=lambda: clock[0])
    reply = "Thanks! I'll look into that right away and get back to you."
    echoes = [reply, reply.upper(), f"  {reply}!!", reply.replace(" ", "\n")]
    for echo in echoes[:3]:  # an agent answering itself every 3 seconds
        answered = breaker.check("key bot", [{"role": "user", "content": echo}])
        answered()
        clock[0] += 3
    with pytest.raises(LoopDetected, match="4 near-identical requests within 10s") as caught:
        breaker.check("key bot", [{"role": "user", "content": echoes[3]}])
    assert caught.value.http_status == 429 and caught.value.retry_after == 10
    # Another caller, and different work from the same one, are not held back.
    breaker.check("key other", [{"role": "user", "content": reply}])()
    breaker.check("key bot", [{"role": "user", "content": "Summarise the release notes."}])()
    # A batch built on one template is no loop, nor are identical requests sent at once.
    for item in range(10):
        breaker.check("key batch", [{"role": "user",
                                     "content": f"Reply with one word about item {item}."}])()
    at_once = [breaker.check("key fan-out", [{"role": "user", "content": reply}])
               for _ in range(20)]
    for answered in at_once:
        answered()
    with pytest.raises(LoopDetected):  # but once they are answered, more of the same is
        breaker.check("key fan-out", [{"role": "user", "content": reply}])
    # A pool of 4 workers sending one prompt 12 times is a fan-out too: while some are in
    # flight, the ones that follow answered ones are not refused.
    in_flight = [breaker.check("key pool", [{"role": "user", "content": reply}])
                 for _ in range(4)]
    for _ in range(8):
        in_flight.pop(0)()
        in_flight.append(breaker.check("key pool", [{"role": "user", "content": reply}]))
    # The loop stays stopped until it pauses for a whole window.
    clock[0] += 3
    with pytest.raises(LoopDetected):
        breaker.check("key bot", [{"role": "user", "content": reply}])
    clock[0] += 10.5
    breaker.check("key bot", [{"role": "user", "content": reply}])


@pytest.mark.parametrize("section, problem", [
    ('[[plans]]\nprovider = "gemini"\nkind = "free_tier"\n[[plans.limits]]\nrequests = 5\n'
     'per = "fortnight"\n', "plans[0].limits[0].per: 'fortnight' is not a window"),
    ('[[plans]]\nprovider = "gemini"\nkind = "free_tier"\n[[plans.limits]]\nrequests = 0\n'
     'per = "day"\n', "plans[0].limits[0].requests: 0 is not a quota"),
    ('[[plans]]\nprovider = "gemini"\nkind = "free_tier"\n[[plans.limits]]\ntokens = -5\n'
     'per = "day"\n', "plans[0].limits[0].tokens: -5 is not a quota"),
    ('[[plans]]\nprovider = "gemini"\nkind = "free_tier"\n', "plans[0].limits: a free tier "
     "needs its quotas"),
    ('[[plans]]\nprovider = "gemni"\n', "plans[0].provider: no provider is named 'gemni' "
     "(did you mean 'gemini'?)"),
    ('[[plans]]\nprovider = "gemini"\nmodels = ["gpt-4o"]\n',
     "plans[0].models: 'gpt-4o' is not one of provider 'gemini'"),
    ('[[alerts]]\nname = "a"\nthreshold = 5.0\nwebhook = "ftp://example.test/hook"\n',
     "alerts[0].webhook: a 'ftp' URL is not an http:// or https:// URL"),
    ('[[alerts]]\nname = "a"\n', "alerts[0]: give either threshold (USD) or fraction"),
    ('[[alerts]]\nname = "a"\nfraction = 0.8\nperiod = "week"\n',
     "alerts[0].fraction: there is no weekly budget for all to take a fraction of"),
    ('[[alerts]]\nname = "a"\nfraction = 0.8\nof = "quota"\nscope = "provider"\n'
     'target = "codex"\n', "alerts[0].of: a quota alert watches a provider with plan limits"),
    ("[loop_breaker]\nmax_similar = 0\n", "loop_breaker.max_similar: must be at least 1"),
])
def test_bad_economics_config_is_one_line_naming_the_key(section, problem):
    with pytest.raises(ConfigError) as caught:
        parse_text(PROVIDERS + section)
    assert any(line.startswith(problem) for line in caught.value.problems), \
        caught.value.problems


def test_config_check_reports_a_bad_plan_window(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(PROVIDERS + '[[plans]]\nprovider = "codex"\nkind = "flat"\n'
                    '[[plans.limits]]\nrequests = 200\nper = "5 hours"\n')
    result = run_tierd("config", "check", str(path))
    assert result.returncode == 1
    assert "plans[0].limits[0].per: '5 hours' is not a window" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_key_requests_exit_1_and_write_nothing(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\n')
    for args, problem in [
            (["create", "bad name!"], "key name 'bad name!': use 1-64 letters"),
            (["create", "bot", "--daily", "-1"], "daily: -1.0 is not a budget"),
            (["create", "bot", "--tiers", "local,gold"], "tiers: 'gold' not known"),
            (["create", "bot", "--tiers", ","], "--tiers: name at least one tier"),
            (["revoke", "nobody"], "unknown key 'nobody' (known keys: none)")]:
        result = run_tierd("--config", str(path), "keys", *args)
        assert result.returncode == 1, (args, result.stderr)
        assert problem in result.stderr and "Traceback" not in result.stderr
    listed = run_tierd("--config", str(path), "keys", "list", "--json")
    assert listed.returncode == 0 and listed.stdout.strip() == "[]"
    made = run_tierd("--config", str(path), "keys", "create", "bot", "--weekly", "2.5")
    assert made.returncode == 0 and made.stdout.startswith("tierd-")
    assert "server.token is not set" in made.stdout
    conn = state_conn(tmp_path / "state" / "state.db")
    [row] = conn.execute("SELECT * FROM api_keys").fetchall()
    assert row["hash"] != made.stdout.splitlines()[0] and row["weekly_usd"] == 2.5
    assert made.stdout.splitlines()[0] not in json_dump(conn)


def json_dump(conn) -> str:
    """Everything in the state database, as text: a key must appear nowhere in it."""
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return json.dumps({t: [list(r) for r in conn.execute(f"SELECT * FROM {t}")]
                       for t in tables}, default=str)


def test_a_quota_alert_fires_at_its_fraction_of_a_free_tier(tmp_path, caplog):
    config = parse_text(f'state_dir = "{tmp_path}"\n{PROVIDERS}' + """
[[plans]]
provider = "gemini"
kind = "free_tier"
[[plans.limits]]
requests = 5
per = "day"
[[alerts]]
name = "free-tier-80"
fraction = 0.8
of = "quota"
scope = "provider"
target = "gemini"
""")
    costs = open_costs(config, state_conn(tmp_path / "state.db"))
    caplog.set_level("WARNING", logger="tierd.costs")
    fired = []
    for _ in range(5):
        costs.budgets.reserve("gemini", "cheap", 0.01, model="gemini-2.5-flash").settle(
            call("gemini", "gemini-2.5-flash"))
        fired.append(sum("alert free-tier-80" in r.getMessage() for r in caplog.records))
    assert fired == [0, 0, 0, 1, 1]  # at 4 of 5 requests, once
    assert "has used 80 % of a plan limit this day" in caplog.text
    [alert] = costs.alerts.listing()
    assert (alert["value"], alert["fires_at"]) == (1.0, 0.8)
