"""`tierd export --out DIR`."""

from __future__ import annotations

import argparse
from pathlib import Path

from tierd.config import load_config


def register(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export", help="write JSON snapshots (status, models, costs, jobs, "
                                           "bench) for a static dashboard")
    export.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    export.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from tierd.dashboard.service import export

    written = export(load_config(args.config), Path(args.out))
    print(f"wrote {', '.join(p.name for p in written)} to {Path(args.out)}")
    return 0
