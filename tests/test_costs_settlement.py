"""Group commit: a call's ledger row (and its settlement) is committed before the call returns,
calls finishing together share one transaction, one write that fails spares the rest of its
group, and a refused admission loses none of the settlements it carried.

Real SQLite state databases; a second connection stands for another process reading the file;
a real `tierd serve` killed with SIGKILL right after its answers keeps their rows.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import child_pythonpath, start_daemon, state_conn
from tests.openai_test_server import start_openai_server
from tests.test_costs_budgets import config_with, record
from tierd.costs.budgets import BudgetExceeded
from tierd.costs.ledger import Ledger
from tierd.costs.periods import period_bounds
from tierd.costs.service import open_costs

KEY_VARIABLE = "TIERD_TEST_SETTLEMENT_KEY"


def rows_in_file(path) -> int:
    conn = state_conn(path)
    try:
        return conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
    finally:
        conn.close()


def commits_on(ledger: Ledger) -> list[str]:
    """Every COMMIT the ledger's connection runs from now on."""
    seen: list[str] = []
    ledger.conn.set_trace_callback(
        lambda sql: seen.append(sql) if sql.strip().upper() == "COMMIT" else None)
    return seen


def queued_together(ledger: Ledger, writes: list) -> None:
    """Run `writes` (each a callable) from threads of their own while the ledger's lock is
    held, so that they all queue, then let them go: one group, one transaction."""
    threads = [threading.Thread(target=write) for write in writes]
    with ledger.lock:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(ledger._queued) < len(writes) and time.monotonic() < deadline:
            time.sleep(0.001)
        assert len(ledger._queued) == len(writes)
    for thread in threads:
        thread.join(10)


def test_a_settled_call_is_in_the_file_when_settle_returns(tmp_path):
    costs = open_costs(config_with(tmp_path, "[budgets]\ndaily = 1.0"),
                       state_conn(tmp_path / "state.db"))
    reservation = costs.budgets.reserve("openai", "cheap", 0.6)
    reservation.settle(record(cost=0.1))
    other = state_conn(tmp_path / "state.db")  # another process's view of the file
    assert other.execute("SELECT COUNT(*) FROM calls").fetchone()[0] == 1
    assert other.execute("SELECT COUNT(*) FROM reservations").fetchone()[0] == 0
    other.close()
    costs.ledger.record(record(cost=0.0))
    assert rows_in_file(tmp_path / "state.db") == 2


def test_until_it_settles_a_call_holds_its_bound(tmp_path):
    """The no-overspend rule is unchanged: what is not settled counts at its reservation."""
    costs = open_costs(config_with(tmp_path, "[budgets]\ndaily = 1.0"),
                       state_conn(tmp_path / "state.db"))
    costs.budgets.reserve("openai", "cheap", 0.6)  # in flight, not settled
    with pytest.raises(BudgetExceeded):
        costs.budgets.reserve("openai", "cheap", 0.5)


def test_calls_settling_together_share_one_commit(tmp_path):
    costs = open_costs(config_with(tmp_path, "[budgets]\ndaily = 1000.0"),
                       state_conn(tmp_path / "state.db"))
    reservations = [costs.budgets.reserve("openai", "cheap", 0.01) for _ in range(20)]
    commits = commits_on(costs.ledger)
    queued_together(costs.ledger, [
        lambda r=r, n=n: r.settle(record(cost=0.005, request_id=f"r{n}"))
        for n, r in enumerate(reservations)])
    assert len(commits) == 1
    assert rows_in_file(tmp_path / "state.db") == 20
    assert costs.budgets.status()[0]["reserved_usd"] == 0


def test_one_failing_write_spares_the_rest_of_its_group(tmp_path, caplog):
    ledger = Ledger(state_conn(tmp_path / "state.db"))
    commits = commits_on(ledger)
    raised: list[Exception] = []

    def failing() -> None:
        try:
            ledger.commit(lambda conn: conn.execute("INSERT INTO no_such_table VALUES (1)"))
        except Exception as err:  # the failing write's own caller learns of it
            raised.append(err)

    queued_together(ledger, [
        lambda: ledger.record(record(request_id="before")),
        failing,
        lambda: ledger.record(record(request_id="after"))])
    assert len(commits) == 1
    assert len(raised) == 1 and "no_such_table" in str(raised[0])
    assert sorted(r["request_id"] for r in ledger.recent(10)) == ["after", "before"]
    assert "a ledger write failed and was rolled back alone" in caplog.text


def test_a_write_whose_commit_fails_is_dropped_not_tried_again_with_later_writes(tmp_path):
    """COMMIT itself can fail (here a deferred constraint; a full disk, a lock that timed
    out): the committing caller is told, and its write does not come back to sink, or land
    inside, whatever the next caller commits."""
    ledger = Ledger(state_conn(tmp_path / "state.db"))
    ledger.conn.execute("PRAGMA foreign_keys = ON")
    ledger.conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    ledger.conn.execute("CREATE TABLE child (parent INTEGER REFERENCES parent (id) "
                        "DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(Exception, match="FOREIGN KEY constraint failed"):
        ledger.commit(lambda conn: conn.execute("INSERT INTO child VALUES (7)"))
    ledger.record(record(request_id="next"))
    assert [r["request_id"] for r in ledger.recent(10)] == ["next"]
    assert ledger.conn.execute("SELECT COUNT(*) FROM child").fetchone()[0] == 0


def test_a_refused_admission_keeps_the_settlements_it_carried(tmp_path):
    costs = open_costs(config_with(tmp_path, "[budgets]\ndaily = 1.0"),
                       state_conn(tmp_path / "state.db"))
    budgets = costs.budgets
    held = budgets.reserve("openai", "cheap", 0.5)
    done = budgets.reserve("openai", "cheap", 0.3)
    settling = threading.Thread(target=done.settle, args=(record(cost=0.3),))
    with costs.ledger.lock:  # the settlement queues; the admission below carries it
        settling.start()
        while not costs.ledger._queued:
            time.sleep(0.001)
        with pytest.raises(BudgetExceeded):
            budgets.reserve("openai", "cheap", 0.4)  # 0.5 held + 0.3 spent + 0.4 > 1.0
        assert rows_in_file(tmp_path / "state.db") == 1
    settling.join(10)
    held.cancel()
    assert costs.ledger.summary("day")["calls"] == 1  # landed once, not lost nor doubled
    assert costs.ledger.summary("day")["cost_usd"] == pytest.approx(0.3)


def test_admission_reads_its_sums_once_and_follows_other_connections(tmp_path):
    """After the first call, a reservation and its settlement sum no rows (the ledger keeps
    the spend and the reserved dollars as it writes them), yet a call another connection
    (a CLI) settles or holds counts at once."""
    config = config_with(tmp_path, "[budgets]\ndaily = 1.0")
    daemon = open_costs(config, state_conn(tmp_path / "state.db"))
    cli = open_costs(config, state_conn(tmp_path / "state.db"))
    daemon.budgets.reserve("openai", "cheap", 0.1).settle(record(cost=0.1))
    statements: list[str] = []
    daemon.ledger.conn.set_trace_callback(statements.append)
    for n in range(3):
        daemon.budgets.reserve("openai", "cheap", 0.1).settle(record(cost=0.1,
                                                                    request_id=f"d{n}"))
    daemon.ledger.conn.set_trace_callback(None)
    assert not [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    assert len([sql for sql in statements if sql.upper() == "COMMIT"]) == 6
    cli.budgets.reserve("openai", "cheap", 0.3).settle(record(cost=0.3, request_id="cli"))
    held = cli.budgets.reserve("openai", "cheap", 0.2)  # 0.4 + 0.3 spent, 0.2 in flight
    with pytest.raises(BudgetExceeded, match=r"has \$0.9000 spent or reserved"):
        daemon.budgets.reserve("openai", "cheap", 0.2)
    held.cancel()
    daemon.budgets.reserve("openai", "cheap", 0.3).cancel()  # 0.7 spent + 0.3 fits
    assert daemon.budgets.status()[0]["spent_usd"] == pytest.approx(0.7)
    assert daemon.budgets.status()[0]["reserved_usd"] == 0


def test_a_write_rolled_back_leaves_no_trace_in_what_admission_reads(tmp_path):
    costs = open_costs(config_with(tmp_path, "[budgets]\ndaily = 1.0"),
                       state_conn(tmp_path / "state.db"))
    costs.budgets.reserve("openai", "cheap", 0.1).cancel()  # the sums are read and kept
    with pytest.raises(RuntimeError):
        with costs.ledger.write() as conn:  # a settlement's row, then a failure: rolled back
            costs.ledger.insert(conn, record(cost=0.9))
            raise RuntimeError("after the row")
    costs.budgets.reserve("openai", "cheap", 1.0).cancel()  # the $0.90 was never spent


def summed(path, cap: dict, now: float) -> tuple[float, float]:
    """A cap's spend and reserved dollars as of `now`, summed from the file's rows."""
    scope = "" if cap["scope"] == "global" else f" AND {cap['scope']} = ?"
    params = [] if cap["scope"] == "global" else [cap["name"]]
    conn = state_conn(path)
    try:
        spent = conn.execute(f"SELECT COALESCE(SUM(cost_usd), 0) FROM calls WHERE ts >= ?"
                             f"{scope}", [period_bounds(cap["period"], now)[0], *params])
        reserved = conn.execute(f"SELECT COALESCE(SUM(usd), 0) FROM reservations WHERE 1"
                                f"{scope}", params)
        return spent.fetchone()[0], reserved.fetchone()[0]
    finally:
        conn.close()


def test_admissions_copies_match_the_file_through_every_write_and_period(tmp_path):
    """The copies admission reads (the ledger's `remembered`) against the file's rows summed
    afresh, after each of 300 random writes from two connections (the
    daemon's and a CLI's): reservations made, refused, settled under and over their bound,
    cancelled twice, and rows stamped in the next day, week and month, read as of those
    periods too (a copy kept for one period must never stand for the next)."""
    config = config_with(tmp_path, """
[budgets]
daily = 3.0
[[budgets.tiers]]
name = "frontier"
weekly = 2.0
[[budgets.providers]]
name = "anthropic"
monthly = 2.5
""")
    path = tmp_path / "state.db"
    daemon, cli = open_costs(config, state_conn(path)), open_costs(config, state_conn(path))
    rng = random.Random(20)
    now = time.time()
    nows = [now, now + 86_400, now + 8 * 86_400, now + 40 * 86_400]
    open_ones: list = []
    for step in range(300):
        side = daemon if rng.random() < 0.7 else cli
        provider, tier = rng.choice([("openai", "cheap"), ("openai", "frontier"),
                                     ("anthropic", "mid"), ("anthropic", "frontier")])
        action = rng.random()
        if action < 0.4 or not open_ones:
            try:
                open_ones.append(side.budgets.reserve(provider, tier, rng.uniform(0.01, 0.4)))
            except BudgetExceeded:
                pass
        elif action < 0.7:
            held = open_ones.pop(rng.randrange(len(open_ones)))
            held.settle(record(provider, tier, cost=held.usd * rng.uniform(0.3, 1.3)))
        elif action < 0.85:
            held = open_ones.pop(rng.randrange(len(open_ones)))
            held.cancel()
            held.cancel()
        else:
            side.ledger.record(record(provider, tier, cost=rng.uniform(0.0, 0.05)),
                               at=rng.choice(nows) + rng.uniform(0, 3600))
        for when in nows:
            for cap in daemon.budgets.status(when):
                assert (cap["spent_usd"], cap["reserved_usd"]) == pytest.approx(
                    summed(path, cap, when), abs=1e-5), (step, when - now, cap)
    for held in open_ones:
        held.cancel()
    assert daemon.budgets.status()[0]["reserved_usd"] == pytest.approx(0, abs=1e-9)


def test_concurrent_settlements_are_each_one_row_none_lost_or_doubled(tmp_path):
    costs = open_costs(config_with(tmp_path, "[budgets]\ndaily = 1000.0"),
                       state_conn(tmp_path / "state.db"))

    def one_call(n: int) -> None:
        reservation = costs.budgets.reserve("openai", "cheap", 0.01)
        call = record(cost=0.005, request_id=f"r{n}")
        reservation.settle(call)
        reservation.settle(call)  # a repeated settle (the shutdown sweep racing the call)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one_call, range(400)))
    assert rows_in_file(tmp_path / "state.db") == 400
    conn = state_conn(tmp_path / "state.db")
    assert conn.execute("SELECT COUNT(*) FROM reservations").fetchone()[0] == 0
    assert conn.execute("SELECT SUM(cost_usd) FROM calls").fetchone()[0] == pytest.approx(2.0)


def test_a_process_killed_right_after_recording_keeps_its_rows(tmp_path):
    script = f"""
import os
from tests.conftest import state_conn
from tests.test_costs_budgets import record
from tierd.costs.ledger import Ledger
from tierd.costs.periods import period_bounds
ledger = Ledger(state_conn({str(tmp_path / "state.db")!r}))
for n in range(3):
    ledger.record(record(request_id=f"cli-{{n}}"))
os.kill(os.getpid(), 9)
"""
    done = subprocess.run([sys.executable, "-c", script], timeout=60,
                          env={"PYTHONPATH": child_pythonpath(), "PATH": "/usr/bin:/bin"})
    assert done.returncode == -signal.SIGKILL
    assert rows_in_file(tmp_path / "state.db") == 3


@pytest.fixture
def upstream():
    server = start_openai_server(reply_tokens=5)
    yield server
    server.stop()


def test_a_daemon_killed_right_after_its_answers_has_every_row(tmp_path, packaged_models_dir,
                                                               upstream):
    keys = tmp_path / "keys.env"
    keys.write_text(f"{KEY_VARIABLE}={upstream.api_key}\n")
    daemon = start_daemon(tmp_path, packaged_models_dir, (
        f'env_file = "{keys}"\n[[providers]]\nname = "up"\n'
        f'base_url = "http://127.0.0.1:{upstream.port}/v1"\napi_key_env = "{KEY_VARIABLE}"\n'
        'models = ["gpt-4o-mini"]\n[routing]\ncache_ttl = 0\n[loop_breaker]\nenabled = false\n'))
    try:
        def call(n: int) -> str:
            stream = n % 2 == 1
            response = httpx.post(
                f"{daemon.url}/v1/chat/completions", timeout=60,
                json={"model": "up/gpt-4o-mini", "max_tokens": 5, "stream": stream,
                      "messages": [{"role": "user", "content": f"call {n}"}]})
            assert response.status_code == 200, response.text
            if stream:
                assert response.text.rstrip().endswith("data: [DONE]")
            return response.headers["X-Request-Id"]

        with ThreadPoolExecutor(8) as pool:
            request_ids = list(pool.map(call, range(40)))
        os.kill(daemon.process.pid, signal.SIGKILL)  # no shutdown, no flush: the file as is
        daemon.process.wait(30)
    finally:
        daemon.stop()
    conn = state_conn(tmp_path / "state" / "state.db")
    found = [row[0] for row in conn.execute(
        "SELECT request_id FROM calls WHERE provider = 'up' AND status = 'ok'")]
    conn.close()
    assert sorted(found) == sorted(request_ids)
