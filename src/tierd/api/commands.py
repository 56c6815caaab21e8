"""`tierd serve`: the daemon."""

from __future__ import annotations

import argparse
import threading

from tierd.app import open_tierd
from tierd.config import load_config
from tierd.errors import TierdError
from tierd.net import BadAddress, is_loopback, parse_listen


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run the daemon: OpenAI- and Ollama-compatible API")
    serve.add_argument("--listen", metavar="HOST:PORT",
                       help="address to listen on (default: server.listen, 127.0.0.1:11500)")
    serve.add_argument("--log-json", action="store_true",
                       help="log one JSON object per line (default: server.log_json)")
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from tierd.api.request_log import configure_logging
    from tierd.api.security import redactor_for
    from tierd.api.server import serve
    from tierd.jobs.scheduler import start_scheduler

    config = load_config(args.config)
    try:
        listen = parse_listen(args.listen or config.server.listen)
    except BadAddress as err:
        raise TierdError(f"--listen: {err} (try 127.0.0.1:11500)") from None
    if not is_loopback(listen.host) and not config.server.token:
        raise TierdError(f"refusing to listen on {listen.host}, which is not loopback, without "
                         "server.token set: anyone who can reach it could use your models")
    configure_logging(args.log_json or config.server.log_json, redactor_for(config))
    tierd = open_tierd(config)
    # Scheduled jobs (tierd.jobs): started with the daemon, stopped by its shutdown.
    start_scheduler(tierd)
    tierd.costs.alerts.resume()  # webhooks a stopped daemon left undelivered
    # Pinned and keep-warm models load in the background so the port opens at once.
    threading.Thread(target=tierd.manager.warm_up, name="tierd-warm-up", daemon=True).start()
    serve(tierd, listen)
    return 0
