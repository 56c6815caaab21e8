"""Opening a database: several connections opening a new one at once all get it in WAL mode;
a transaction whose COMMIT fails leaves the connection usable."""

from __future__ import annotations

import threading

import pytest

from tierd.db import connect, transaction

ROUNDS = 60
OPENERS = 4


def test_connections_opening_a_new_database_at_once_all_succeed(tmp_path):
    """SQLite answers the loser of the switch to WAL "database is locked" without waiting, so
    a build thread and a search opening a fresh index together used to fail one of them
    (about one round in sixteen of three openers here)."""
    failures: list[BaseException] = []
    for round_ in range(ROUNDS):
        path = tmp_path / f"fresh-{round_}.db"
        start = threading.Barrier(OPENERS)

        def open_it() -> None:
            start.wait()
            try:
                conn = connect(path, vec=True)
                try:
                    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
                    conn.execute("CREATE TABLE IF NOT EXISTS t (a)")
                finally:
                    conn.close()
            except BaseException as err:  # collected: the assertion below names it
                failures.append(err)

        threads = [threading.Thread(target=open_it) for _ in range(OPENERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not failures, f"{len(failures)} opens failed, e.g. {failures[0]!r}"


def test_a_transaction_whose_commit_fails_is_rolled_back(tmp_path):
    """COMMIT itself can fail (a deferred constraint, a full disk): the transaction is rolled
    back, so the connection is not left inside it, failing every later BEGIN."""
    conn = connect(tmp_path / "state.db")
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        conn.execute("CREATE TABLE child (parent INTEGER REFERENCES parent (id) "
                     "DEFERRABLE INITIALLY DEFERRED)")
        with pytest.raises(Exception, match="FOREIGN KEY constraint failed"):
            with transaction(conn):
                conn.execute("INSERT INTO child VALUES (7)")  # checked only at COMMIT
        assert not conn.in_transaction
        with transaction(conn):
            conn.execute("INSERT INTO parent VALUES (7)")
            conn.execute("INSERT INTO child VALUES (7)")
        assert conn.execute("SELECT COUNT(*) FROM child").fetchone()[0] == 1
    finally:
        conn.close()
