"""`tierd serve`: the daemon."""

from __future__ import annotations

import argparse
import ipaddress
import threading

from ..app import open_tierd
from ..config import load_config
from ..errors import TierdError


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run the daemon: OpenAI- and Ollama-compatible API")
    serve.add_argument("--listen", metavar="HOST:PORT",
                       help="address to listen on (default: server.listen, 127.0.0.1:11500)")
    serve.add_argument("--log-json", action="store_true",
                       help="log one JSON object per line (default: server.log_json)")
    serve.set_defaults(handler=_serve)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _serve(args: argparse.Namespace) -> int:
    from .request_log import configure_logging
    from .security import redactor_for
    from .server import serve, split_listen

    config = load_config(args.config)
    listen = args.listen or config.server.listen
    try:
        host, _ = split_listen(listen)
    except ValueError:
        raise TierdError(f"--listen: {listen!r} is not HOST:PORT (try 127.0.0.1:11500)") from None
    if not is_loopback(host) and not config.server.token:
        raise TierdError(f"refusing to listen on {host}, which is not loopback, without "
                         "server.token set: anyone who can reach it could use your models")
    configure_logging(args.log_json or config.server.log_json, redactor_for(config))
    tierd = open_tierd(config)
    # Scheduled jobs (tierd.jobs): started with the daemon, stopped by its shutdown.
    from ..jobs.scheduler import start_scheduler

    start_scheduler(tierd)
    # Pinned and keep-warm models load in the background so the port opens at once.
    threading.Thread(target=tierd.manager.warm_up, name="tierd-warm-up", daemon=True).start()
    serve(tierd, listen)
    return 0
