"""Opening SQLite the one way that works on every Python tierd runs on.

pyenv's and macOS's system Python build `sqlite3` without `enable_load_extension`, so where the
standard library cannot load sqlite-vec we use pysqlite3 (a bundled, modern SQLite with the same
DB-API). Every database is WAL mode with a busy timeout, and writes go through `transaction()`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3 as _stdlib_sqlite3
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import sqlite_vec


def _pick_driver() -> ModuleType:
    probe = _stdlib_sqlite3.connect(":memory:")
    try:
        if hasattr(probe, "enable_load_extension"):
            return _stdlib_sqlite3
    finally:
        probe.close()
    try:
        import pysqlite3.dbapi2 as driver  # type: ignore[import-not-found]
    except ImportError as err:  # pragma: no cover - depends on the platform's Python build
        raise RuntimeError(
            "this Python's sqlite3 cannot load extensions and pysqlite3 is not installed; "
            "install pysqlite3-binary or use a Python built with loadable SQLite extensions"
        ) from err
    return driver


sqlite3: ModuleType = _pick_driver()
"""The DB-API module in use; catch `sqlite3.Error` and friends from here, not the stdlib."""


def connect(path: str | os.PathLike, *, vec: bool = False, readonly: bool = False) -> Any:
    """Open `path` in WAL mode; load sqlite-vec when `vec`. Parent folders are created."""
    target = str(path)
    if target != ":memory:" and not readonly:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    if readonly:
        conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True, check_same_thread=False,
                               timeout=30)
    else:
        conn = sqlite3.connect(target, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.isolation_level = None  # explicit BEGIN/COMMIT through transaction()
    conn.execute("PRAGMA busy_timeout = 30000")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    if vec:
        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
        conn.enable_load_extension(False)
    return conn


@contextlib.contextmanager
def transaction(conn: Any, immediate: bool = True) -> Iterator[Any]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception.

    IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout instead of
    one failing with "database is locked" halfway through.
    """
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def checkpoint(conn: Any) -> None:
    """Fold the WAL back into the main file (on shutdown)."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
