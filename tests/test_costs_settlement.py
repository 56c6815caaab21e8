"""Batched settlement: a call's ledger row and settlement are deferred off the request's path,
yet every read and every admission counts them, a refused admission loses none of them, and
nothing deferred is lost when the ledger is closed or its process ends.

Real SQLite state databases; a second connection stands for another process reading the file.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import child_pythonpath, state_conn
from tests.test_costs_budgets import config_with, record
from tierd.costs.budgets import BudgetExceeded
from tierd.costs.ledger import Ledger
from tierd.costs.service import open_costs


def rows_in_file(path) -> int:
    conn = state_conn(path)
    try:
        return conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
    finally:
        conn.close()


def test_a_deferred_settlement_is_counted_by_the_next_admission_and_read(tmp_path):
    costs = open_costs(config_with(tmp_path, "[budgets]\ndaily = 1.0"),
                       state_conn(tmp_path / "state.db"))
    budgets = costs.budgets
    first = budgets.reserve("openai", "cheap", 0.6)
    first.settle(record(cost=0.1))  # deferred: the reservation of 0.6 is still in the file
    # Admission applies the settlement first, so it decides on $0.10 spent, not $0.60 held.
    second = budgets.reserve("openai", "cheap", 0.85)
    assert rows_in_file(tmp_path / "state.db") == 1
    second.cancel()
    assert costs.ledger.summary("day")["cost_usd"] == pytest.approx(0.1)


def test_until_it_lands_a_settling_call_still_holds_its_bound(tmp_path):
    """The no-overspend rule is unchanged: what is not settled counts at its reservation."""
    costs = open_costs(config_with(tmp_path, "[budgets]\ndaily = 1.0"),
                       state_conn(tmp_path / "state.db"))
    costs.budgets.reserve("openai", "cheap", 0.6)  # in flight, not settled
    with pytest.raises(BudgetExceeded):
        costs.budgets.reserve("openai", "cheap", 0.5)


def test_a_refused_admission_keeps_the_settlements_it_carried(tmp_path):
    costs = open_costs(config_with(tmp_path, "[budgets]\ndaily = 1.0"),
                       state_conn(tmp_path / "state.db"))
    budgets = costs.budgets
    held = budgets.reserve("openai", "cheap", 0.5)
    done = budgets.reserve("openai", "cheap", 0.3)
    done.settle(record(cost=0.3))
    with pytest.raises(BudgetExceeded):
        budgets.reserve("openai", "cheap", 0.4)  # 0.5 held + 0.3 spent + 0.4 > 1.0
    assert rows_in_file(tmp_path / "state.db") == 1
    held.cancel()
    assert costs.ledger.summary("day")["calls"] == 1


def test_many_settlements_share_commits_and_none_is_lost_or_doubled(tmp_path):
    costs = open_costs(config_with(tmp_path, "[budgets]\ndaily = 1000.0"),
                       state_conn(tmp_path / "state.db"))
    calls = []
    for n in range(200):
        reservation = costs.budgets.reserve("openai", "cheap", 0.01)
        call = record(cost=0.005, request_id=f"r{n}")
        reservation.settle(call)
        reservation.settle(call)  # a repeated settle (the shutdown sweep racing the call)
        calls.append(call)
    costs.ledger.close()
    assert rows_in_file(tmp_path / "state.db") == 200
    conn = state_conn(tmp_path / "state.db")
    assert conn.execute("SELECT COUNT(*) FROM reservations").fetchone()[0] == 0
    assert conn.execute("SELECT SUM(cost_usd) FROM calls").fetchone()[0] == pytest.approx(1.0)


def test_a_process_that_ends_without_flushing_still_writes_its_rows(tmp_path):
    """A CLI call settled in its own process: the rows land when the process exits."""
    script = f"""
from tests.conftest import state_conn
from tests.test_costs_budgets import record
from tierd.costs.ledger import Ledger
ledger = Ledger(state_conn({str(tmp_path / "state.db")!r}))
for n in range(3):
    ledger.record(record(request_id=f"cli-{{n}}"))
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60,
                   env={"PYTHONPATH": child_pythonpath(), "PATH": "/usr/bin:/bin"})
    assert rows_in_file(tmp_path / "state.db") == 3


def test_a_bad_deferred_write_does_not_take_the_others_with_it(tmp_path, caplog):
    ledger = Ledger(state_conn(tmp_path / "state.db"))
    ledger.record(record(request_id="before"))
    ledger.defer(lambda conn: conn.execute("INSERT INTO no_such_table VALUES (1)"))
    ledger.record(record(request_id="after"))
    ledger.flush()
    assert [r["request_id"] for r in ledger.recent(10)] == ["after", "before"]
    assert "a deferred ledger write failed" in caplog.text
