"""`tierd export --out DIR [--site]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from tierd.config import load_config


def register(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export", help="write the dashboard's data as JSON snapshots, or "
                                           "with --site the whole page as a static site")
    export.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    export.add_argument("--site", action="store_true",
                        help="write the page too (index.html, its script and styles, data/), "
                             "ready for any static web host or file://")
    export.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from tierd.dashboard.service import export

    out = Path(args.out)
    written = export(load_config(args.config), out, site=args.site)
    if args.site:
        print(f"wrote the dashboard site ({len(written)} files) to {out}; open "
              f"{(out / 'index.html').resolve().as_uri()}")
    else:
        print(f"wrote {', '.join(p.name for p in written)} to {out}")
    return 0
