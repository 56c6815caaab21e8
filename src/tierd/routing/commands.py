"""`tierd route explain "PROMPT"`: the routing decision for a prompt, and why, without calling
any model."""

from __future__ import annotations

import argparse

from tierd.app import open_tierd
from tierd.cli.output import print_json
from tierd.config import load_config
from tierd.errors import TierdError
from tierd.routing.service import explain
from tierd.routing.tasks import AUTO
from tierd.runtimes.base import FEATURES


def register(sub: argparse._SubParsersAction) -> None:
    route = sub.add_parser("route", help="how tierd routes requests")
    verbs = route.add_subparsers(dest="verb", metavar="VERB", parser_class=type(route))
    why = verbs.add_parser("explain", help="show the task, tier and candidate chain a prompt "
                                           "gets, and the rule that decided")
    why.add_argument("prompt", help="the user message")
    why.add_argument("--model", default=AUTO,
                     help="the request's model field: auto (default), tier:NAME, task:NAME or "
                          "an exact model")
    why.add_argument("--task", help="as the X-Tierd-Task header")
    why.add_argument("--system", default="", help="a system message")
    why.add_argument("--needs", default="", metavar="FEATURES",
                     help="features the request needs, comma-separated (tools, vision, "
                          "json_schema), as a request with tools, images or a schema would")
    why.add_argument("--json", action="store_true", help="print JSON")
    why.set_defaults(handler=_explain)
    route.set_defaults(handler=lambda args: route.print_help() or 1)


def _explain(args: argparse.Namespace) -> int:
    app = open_tierd(load_config(args.config))
    messages = [{"role": "system", "content": args.system}] if args.system else []
    messages.append({"role": "user", "content": args.prompt})
    needs = [n.strip() for n in args.needs.split(",") if n.strip()]
    unknown = [n for n in needs if n not in FEATURES]
    if unknown:
        raise TierdError(f"--needs: {', '.join(unknown)} is not one of {', '.join(FEATURES)}")
    decision = explain(app, args.model, args.task, messages, needs)
    if args.json:
        print_json(decision)
        return 0
    print(f"task:   {decision['task']}")
    print(f"tier:   {decision['tier']}")
    print(f"why:    {decision['reason']}")
    print(f"needs:  {', '.join(decision['needs'])}")
    if decision["warning"]:
        print(f"note:   {decision['warning']}")
    for n, (candidate, now) in enumerate(zip(decision["candidates"], decision["standing"]), 1):
        print(f"  {n}. {candidate}  ({now})")
    for skipped in decision["skipped"]:
        print(f"  skipped {skipped['entry']}: {skipped['reason']}")
    return 0
