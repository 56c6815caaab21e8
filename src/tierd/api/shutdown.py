"""Stopping tierd cleanly: cutting what outlives `server.shutdown_grace`, then closing.

On SIGTERM the server stops taking connections and lets requests in flight finish. When the
grace is over, `cut_requests` cuts every routed request still running: its client gets a 503
(or the stream's error event) at once, requests waiting for a model get the same, and the
runtimes stop at their next token. Once the server is down, `close_tierd` gives the cut calls
a moment to settle their own ledger rows (with the usage they reached), settles whatever has
not as cancelled and releases its reservation — every call that reached a provider keeps its
row — then stops the scheduler and folds the WAL files back, so the next start (or a backup
copying state.db alone) sees every committed row in the main database file.
"""

from __future__ import annotations

import logging
import time

from tierd.app import Tierd
from tierd.db import checkpoint, connect, sqlite3

log = logging.getLogger("tierd.shutdown")

SETTLE_TIMEOUT_S = 5.0
"""After a cut, how long cut calls get to settle their own ledger rows before the rest are
settled for them."""


def cut_requests(app: Tierd, grace: float) -> int:
    """Past the grace: cut every routed request and every wait for a model; how many ran."""
    message = (f"tierd is shutting down and cut this request off after server.shutdown_grace "
               f"({grace:g}s): retry when it is back")
    count = app.inflight.cut(message)
    app.manager.stop_waiting(message)
    log.warning("server.shutdown_grace (%gs) is over: cut %d request(s) still running",
                grace, count)
    return count


def settle_cut_requests(app: Tierd, timeout: float = SETTLE_TIMEOUT_S) -> None:
    """Let cut calls settle by themselves for up to `timeout`, then settle the rest."""
    if app.inflight.wait(timeout):
        return
    count = app.inflight.abandon_all()
    log.warning("settled %d call(s) that had not stopped %.0fs after being cut: each has its "
                "ledger row (cancelled, usage so far) and no reservation left", count, timeout)


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
    settle_cut_requests(app)
    if not wait_for_requests(app, drain_timeout):
        log.warning("requests still running after %.0fs: %s", drain_timeout,
                    app.manager.queues())
    stop_scheduler(app)
    app.exemplars.close()
    app.costs.alerts.close()  # a pending webhook is sent by the next daemon to start
    checkpoint_databases(app)
    log.info("tierd stopped cleanly")
