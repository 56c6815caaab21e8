"""Opening SQLite the one way that works on every Python tierd runs on, and keeping its
tables current.

pyenv's, python.org's and macOS's system Pythons build `sqlite3` without `enable_load_extension`,
so where the standard library cannot load sqlite-vec we use sqlean-py: the standard library's own
`sqlite3` module built against a bundled, current SQLite with extension loading on, with wheels
for macOS (arm64, x86-64) and Linux (x86-64, aarch64). It is a true drop-in (`Row`,
`complete_statement`, URI opens, the same exceptions), which apsw is not. One library serves the
whole process (APScheduler's engine is built on it too): two copies of SQLite in one process do
not see each other's POSIX locks. Every database is WAL mode with a busy timeout, and writes go
through `transaction()`. The databases hold the ledger and the full text of every indexed file,
so they are the user's alone: their folder is 0700 and the files 0600 from creation (SQLite
gives its -wal and -shm files the database's own mode), and looser modes found at open are
fixed, with a warning.

Each table has one owning module, which declares a `Schema`: its name and the ordered steps
that create its tables and later change them. `migrate()` brings a database up to date at
open, one owner at a time, recording each owner's version in `schema_versions`; a release that
changes a table adds a step and never edits an old one, so a database from any earlier release
opens cleanly, and one from a newer release is refused instead of being misread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3 as _stdlib_sqlite3
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterable, Iterator

import sqlite_vec

from tierd.errors import TierdError

FALLBACK_DRIVER = "sqlean"
"""The drop-in used where the standard library's sqlite3 cannot load extensions."""


def _stdlib_loads_extensions() -> bool:
    probe = _stdlib_sqlite3.connect(":memory:")
    try:
        return hasattr(probe, "enable_load_extension")
    finally:
        probe.close()


def _pick_driver() -> ModuleType:
    if _stdlib_loads_extensions():
        return _stdlib_sqlite3
    try:
        import sqlean as driver  # type: ignore[import-not-found]
    except ImportError as err:  # pragma: no cover - depends on the platform's Python build
        raise RuntimeError(
            "this Python's sqlite3 cannot load extensions (sqlite-vec needs that) and sqlean-py "
            "is not installed: run `pip install sqlean-py`, or use a Python built with "
            "loadable SQLite extensions (Homebrew's, Debian's)"
        ) from err
    return driver


sqlite3: ModuleType = _pick_driver()
"""The DB-API module in use; catch `sqlite3.Error` and friends from here, not the stdlib."""

log = logging.getLogger("tierd.db")

PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600


def make_private(path: Path) -> None:
    """Take every permission of group and others from `path`, warning when there were any:
    until now other users of this machine could read it."""
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        os.chmod(path, current & 0o700)
        log.warning("%s was open to other users (mode %o): made it %o", path, current,
                    current & 0o700)


def _private_database(path: Path) -> None:
    """The folder 0700 and the file 0600, made so or fixed (before SQLite opens it, so its
    -wal and -shm files are created 0600 too)."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=PRIVATE_FOLDER)
    folder = path.parent.stat()
    # A shared folder (sticky, as /tmp is, or another user's) is not ours to close: the
    # database's own 0600 (which SQLite gives its -wal and -shm files too) keeps it private.
    if not folder.st_mode & stat.S_ISVTX and folder.st_uid == os.geteuid():
        make_private(path.parent)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE))
    except FileExistsError:
        pass
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if file.exists():
            make_private(file)


@dataclass(frozen=True)
class DriverInfo:
    """Which SQLite library this process uses, for `tierd doctor`."""

    module: str
    """"sqlite3" (the standard library) or "sqlean" (the fallback)."""
    sqlite_version: str
    stdlib_loads_extensions: bool
    stdlib_sqlite_version: str


def driver_info() -> DriverInfo:
    return DriverInfo(
        module=sqlite3.__name__.split(".")[0],
        sqlite_version=sqlite3.sqlite_version,
        stdlib_loads_extensions=_stdlib_loads_extensions(),
        stdlib_sqlite_version=_stdlib_sqlite3.sqlite_version,
    )


BUSY_TIMEOUT_S = 30
"""How long a connection waits for another's lock before it gives up."""


def _enter_wal(conn: Any) -> None:
    """Switch to WAL, waiting out another connection doing the same. Two processes or threads
    opening a new database at once race for the switch, and SQLite answers the loser "database
    is locked" at once, without its busy handler (a job and a search opening a fresh index)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    pause = 0.001
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def connect(path: str | os.PathLike, *, vec: bool = False, readonly: bool = False) -> Any:
    """Open `path` in WAL mode; load sqlite-vec when `vec`. Parent folders are created, and
    the database and its folder are private to the user (see above)."""
    target = str(path)
    if target != ":memory:" and not readonly:
        _private_database(Path(target))
    if readonly:
        conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True, check_same_thread=False,
                               timeout=30)
    else:
        conn = sqlite3.connect(target, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.isolation_level = None  # explicit BEGIN/COMMIT through transaction()
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
    if not readonly:
        _enter_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    if vec:
        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
        conn.enable_load_extension(False)
    return conn


@contextlib.contextmanager
def transaction(conn: Any, immediate: bool = True) -> Iterator[Any]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception, the COMMIT's own too (a
    deferred constraint, a full disk): a connection left inside the transaction would fail
    every later BEGIN.

    IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout instead of
    one failing with "database is locked" halfway through.
    """
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def checkpoint(conn: Any) -> None:
    """Fold the WAL back into the main file (on shutdown)."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


Step = str | Callable[[Any], None]
"""One migration step: SQL statements, or a function of the connection (for a step that must
look at the data), run inside the migration's transaction."""


@dataclass(frozen=True)
class Schema:
    """The tables one module owns: `steps[n]` takes them from version n to n + 1."""

    owner: str
    steps: tuple[Step, ...]

    @property
    def version(self) -> int:
        return len(self.steps)


class SchemaTooNew(TierdError):
    """The database was written by a newer tierd, whose tables this one would misread."""


_VERSIONS = """CREATE TABLE IF NOT EXISTS schema_versions (
    owner TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    migrated_at REAL NOT NULL
)"""


def migrate(conn: Any, schemas: Iterable[Schema]) -> None:
    """Run every step each owner's tables have not had yet, each owner in one transaction."""
    conn.execute(_VERSIONS)
    for schema in schemas:
        if _version(conn, schema.owner) == schema.version:
            continue  # the common case at every open: no write lock taken
        with transaction(conn):
            current = _version(conn, schema.owner)
            if current > schema.version:
                raise SchemaTooNew(
                    f"the database was written by a newer tierd ({schema.owner} tables at "
                    f"version {current}, this tierd knows {schema.version}): upgrade tierd")
            for step in schema.steps[current:]:
                if callable(step):
                    step(conn)
                else:
                    execute_script(conn, step)
            conn.execute("INSERT INTO schema_versions (owner, version, migrated_at) "
                         "VALUES (?, ?, ?) ON CONFLICT (owner) DO UPDATE "
                         "SET version = excluded.version, migrated_at = excluded.migrated_at",
                         (schema.owner, schema.version, time.time()))


def schema_versions(conn: Any) -> dict[str, int]:
    """Each owner's version as recorded in the database (for tests and `tierd doctor`)."""
    conn.execute(_VERSIONS)
    return {row[0]: row[1] for row in conn.execute("SELECT owner, version FROM schema_versions")}


def execute_script(conn: Any, sql: str) -> None:
    """Run `sql` statement by statement inside the caller's transaction (`executescript`
    would COMMIT behind its back); statements are split where SQLite says one is complete,
    so a trigger's body with its own semicolons stays whole."""
    start = 0
    for end, char in enumerate(sql):
        if char == ";" and sqlite3.complete_statement(sql[start:end + 1]):
            conn.execute(sql[start:end + 1])
            start = end + 1
    if sql[start:].strip():
        raise ValueError(f"incomplete SQL statement in a schema step: {sql[start:][:80]!r}")


def _version(conn: Any, owner: str) -> int:
    row = conn.execute("SELECT version FROM schema_versions WHERE owner = ?", (owner,)).fetchone()
    return 0 if row is None else int(row[0])
