"""Stopping tierd cleanly once the server has stopped taking requests.

The HTTP server has already drained or cancelled its requests; what remains is work that
outlives a request: stream threads finishing their last token and ledger row, the scheduler
and its jobs, and the WAL files, folded back so the next start (or a backup copying state.db
alone) sees every committed row in the main database file.
"""

from __future__ import annotations

import logging
import time

from tierd.app import Tierd
from tierd.db import checkpoint, connect, sqlite3

log = logging.getLogger("tierd.shutdown")


def wait_for_requests(app: Tierd, timeout: float) -> bool:
    """Wait until no request holds a model; False when some still do after `timeout`."""
    deadline = time.monotonic() + timeout
    while app.manager.busy():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def stop_scheduler(app: Tierd) -> None:
    scheduler = app.scheduler
    if scheduler is not None and scheduler.running:
        # wait=True lets a running job finish; its job store stays as it is for the next start.
        scheduler.shutdown(wait=True)


def checkpoint_databases(app: Tierd) -> None:
    for path in (app.state_db, app.index_db):
        if not path.exists():
            continue
        try:
            conn = connect(path)
            try:
                checkpoint(conn)
            finally:
                conn.close()
        except sqlite3.Error as err:
            # Not fatal: SQLite replays the WAL on the next open.
            log.warning("could not checkpoint %s: %s", path, err)


def close_tierd(app: Tierd, drain_timeout: float = 10.0) -> None:
    if not wait_for_requests(app, drain_timeout):
        log.warning("requests still running after %.0fs: %s", drain_timeout,
                    app.manager.queues())
    stop_scheduler(app)
    app.exemplars.close()
    checkpoint_databases(app)
    log.info("tierd stopped cleanly")
