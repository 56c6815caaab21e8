"""`tierd route explain|teach|exemplars|forget`: the routing decision for a prompt and why, and
what the classifier was taught. Each verb asks the running daemon (its classifier holds the
exemplars in memory), else acts in this process."""

from __future__ import annotations

import argparse
import time
from functools import partial

from tierd.api.paths import ROUTE_EXEMPLARS, ROUTE_EXPLAIN, ROUTE_FORGET, ROUTE_TEACH
from tierd.cli.daemon import ask
from tierd.cli.output import print_json, print_table
from tierd.config import load_config
from tierd.routing.service import SOURCES, explain, forget_exemplar, list_exemplars, teach
from tierd.routing.tasks import AUTO


def register(sub: argparse._SubParsersAction) -> None:
    route = sub.add_parser("route", help="how tierd routes requests, and teaching it")
    verbs = route.add_subparsers(dest="verb", metavar="VERB", parser_class=type(route))
    why = verbs.add_parser("explain", help="show the task, tier and candidate chain a prompt "
                                           "gets, the rule and the exemplars that decided, and "
                                           "what each candidate would cost")
    why.add_argument("prompt", help="the user message")
    why.add_argument("--model", default=AUTO,
                     help="the request's model field: auto (default), tier:NAME, task:NAME or "
                          "an exact model")
    why.add_argument("--task", help="as the X-Tierd-Task header")
    why.add_argument("--needs", default="", metavar="FEATURES",
                     help="features the request needs, comma-separated (tools, vision, "
                          "json_schema), as a request with tools, images or a schema would")
    why.add_argument("--max-tokens", type=int,
                     help="the reply length the cost is bounded with (default: what a cloud "
                          "call would be asked for, 4096 or the model's limit)")
    why.set_defaults(handler=_explain)
    learn = verbs.add_parser("teach", help="keep a prompt as an exemplar of a task: prompts "
                                           "like it route to that task from now on")
    learn.add_argument("prompt", help="the user message")
    learn.add_argument("task", help="the task it belongs to (e.g. extract, code, writing)")
    learn.set_defaults(handler=_teach)
    for verb in (why, learn):
        verb.add_argument("--system", default="", help="a system message")
    listing = verbs.add_parser("exemplars", help="the taught and learned exemplars")
    listing.add_argument("--source", choices=SOURCES)
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(handler=_exemplars)
    drop = verbs.add_parser("forget", help="remove a taught or learned exemplar")
    drop.add_argument("id", type=int, help="its id, as `tierd route exemplars` lists it")
    drop.set_defaults(handler=_forget)
    for verb in (why, learn, listing, drop):
        verb.add_argument("--json", action="store_true", help="print JSON")
    route.set_defaults(handler=lambda args: route.print_help() or 1)


def _usd(value: float | None) -> str:
    return "no price" if value is None else f"${value:.6f}".rstrip("0").rstrip(".")


def _explain(args: argparse.Namespace) -> int:
    needs = [n.strip() for n in args.needs.split(",") if n.strip()]
    # In this process (no daemon), wait for the exemplars: the process ends after one answer.
    decision = ask(load_config(args.config), ROUTE_EXPLAIN, partial(explain, wait=True),
                   prompt=args.prompt, system=args.system, model=args.model, task=args.task,
                   max_tokens=args.max_tokens, needs=needs)
    if args.json:
        print_json(decision)
        return 0
    print(f"task:   {decision['task']}")
    print(f"tier:   {decision['tier']}")
    print(f"why:    {decision['reason']}")
    print(f"needs:  {', '.join(decision['needs'])}")
    if decision["warning"]:
        print(f"note:   {decision['warning']}")
    classifier = decision["classifier"]
    if classifier is not None:
        _print_signals(classifier)
    print("candidates:")
    for n, candidate in enumerate(decision["candidates"], 1):
        cost = ("$0 (local)" if candidate["kind"] == "local" else
                f"{_usd(candidate['prompt_usd'])} for the prompt, at most "
                f"{_usd(candidate['max_usd'])} with the reply ({candidate['note']})")
        print(f"  {n}. {candidate['candidate']}: {cost}  ({candidate['standing']})")
    for skipped in decision["skipped"]:
        print(f"  skipped {skipped['entry']}: {skipped['reason']}")
    if decision["error"]:
        print(f"a request would fail: {decision['error']}")
    return 0


def _print_signals(classifier: dict) -> None:
    rule = classifier["rule"]
    print(f"rule:   {rule['rule'] if rule['task'] else 'none matched'}")
    if classifier["material_guard"]:
        print(f"material guard: {classifier['material_guard']}")
    exemplars = classifier["exemplars"]
    if exemplars["off"]:
        print(f"exemplars: off, the rules route alone: {exemplars['off']}")
        return
    counts = ", ".join(f"{n} {source}" for source, n in exemplars["exemplars"].items())
    verdict = "abstain" if exemplars["abstained"] else f"say {exemplars['best']['task']}"
    print(f"exemplars ({exemplars['model']}; {counts}): {verdict} — best "
          f"{exemplars['best']['task']} {exemplars['best']['similarity']:.3f}, runner-up "
          f"{exemplars['runner_up']['task']} {exemplars['runner_up']['similarity']:.3f}, "
          f"margin {exemplars['margin']:.3f} (abstain below {exemplars['margin_needed']:.3f})")
    for n in exemplars["neighbours"]:
        print(f"  nearest: {n['id']} ({n['source']}) {n['task']} {n['similarity']:.3f}")
    if exemplars["near_duplicate"]:
        d = exemplars["near_duplicate"]
        print(f"  near-duplicate of {d['source']} exemplar {d['id']} ({d['task']}, "
              f"{d['similarity']:.3f}): it decides")


def _teach(args: argparse.Namespace) -> int:
    stored = ask(load_config(args.config), ROUTE_TEACH, teach, task=args.task,
                 prompt=args.prompt, system=args.system)
    if args.json:
        print_json(stored)
        return 0
    print(f"taught exemplar {stored['id']}: {stored['task']} (embedded with "
          f"{stored['model_id']}); the prompt now routes to {stored['routes_to']}")
    return 0


def _exemplars(args: argparse.Namespace) -> int:
    found = ask(load_config(args.config), ROUTE_EXEMPLARS, list_exemplars, source=args.source,
                limit=args.limit)["exemplars"]
    if args.json:
        print_json(found)
        return 0
    print_table(["ID", "SOURCE", "TASK", "DIGEST", "MODEL", "ADDED", "TEXT"], [
        [e["id"], e["source"], e["task"], e["digest"], e["model_id"],
         time.strftime("%Y-%m-%d %H:%M", time.localtime(e["created_at"])),
         (e["text"] or "(not kept)")[:60]] for e in found])
    return 0


def _forget(args: argparse.Namespace) -> int:
    removed = ask(load_config(args.config), ROUTE_FORGET, forget_exemplar,
                  exemplar_id=args.id)["forgotten"]
    if args.json:
        print_json(removed)
        return 0
    print(f"forgot {removed['source']} exemplar {removed['id']} ({removed['task']})")
    return 0
