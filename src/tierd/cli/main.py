"""The `tierd` command line.

Each part of tierd registers its own verbs from a `commands` module (see COMMAND_MODULES), and
those verbs call the same functions the HTTP API calls. Exit codes: 0 ok, 1 a user error (a
`TierdError`, printed as one line), 2 anything else (a bug; the traceback goes to stderr only
with TIERD_DEBUG=1).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from typing import Callable

from tierd import __version__
from tierd.errors import ConfigError, TierdError

COMMAND_MODULES = (
    "tierd.api.commands",
    "tierd.models.commands",
    "tierd.hosts.commands",
    "tierd.cli.config_commands",
    "tierd.costs.commands",
    "tierd.routing.commands",
    "tierd.system_service.commands",
    "tierd.jobs.commands",
    "tierd.dashboard.commands",
    "tierd.index.commands",
    "tierd.bench.commands",
    "tierd.doctor.commands",
)


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 1 (a user error) instead of argparse's 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(1)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tierd",
        description="Run a local-inference box: memory budgets, tiered routing, a semantic index.",
    )
    parser.add_argument("--version", action="version", version=f"tierd {__version__}")
    parser.add_argument(
        "--config", metavar="FILE",
        help="config file (default: $TIERD_CONFIG, ~/.config/tierd/config.toml, "
             "/etc/tierd/config.toml, else built-in defaults)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int | None] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 1
    try:
        return handler(args) or 0
    except ConfigError as err:
        for line in err.problems:
            print(f"tierd: {line}", file=sys.stderr)
        return 1
    except TierdError as err:
        print(f"tierd: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tierd: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as err:  # a bug: say so plainly, keep the traceback for TIERD_DEBUG
        if os.environ.get("TIERD_DEBUG"):
            traceback.print_exc()
        print(f"tierd: internal error: {type(err).__name__}: {err} "
              "(set TIERD_DEBUG=1 for the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
