"""Opening a database: several connections opening a new one at once all get it in WAL mode."""

from __future__ import annotations

import threading

from tierd.db import connect

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
