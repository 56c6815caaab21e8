"""`tierd cost summary|breakdown`: what routed calls cost, from the ledger (as GET /costs)."""

from __future__ import annotations

import argparse

from tierd.api.paths import COSTS
from tierd.cli.daemon import ask
from tierd.cli.output import print_json, print_table
from tierd.config import Config, load_config
from tierd.costs.ledger import BREAKDOWN_KEYS
from tierd.costs.periods import PERIODS
from tierd.costs.service import Costs, cost_report, open_costs


def register(sub: argparse._SubParsersAction) -> None:
    cost = sub.add_parser("cost", help="what calls cost: totals, breakdowns, budgets")
    verbs = cost.add_subparsers(dest="verb", metavar="VERB", parser_class=type(cost))
    summary = verbs.add_parser("summary", help="totals for the current UTC day, week or month, "
                                               "and each budget's standing")
    breakdown = verbs.add_parser("breakdown", help="totals per provider, model, task or tier")
    breakdown.add_argument("--by", required=True, choices=BREAKDOWN_KEYS)
    for verb in (summary, breakdown):
        verb.add_argument("--period", default="day", choices=PERIODS,
                          help="the current UTC day (default), week (from Monday) or month")
        verb.add_argument("--json", action="store_true", help="print JSON")
    summary.set_defaults(handler=_summary)
    breakdown.set_defaults(handler=_breakdown)
    cost.set_defaults(handler=lambda args: cost.print_help() or 1)


def _report(args: argparse.Namespace, by: str | None) -> dict:
    return ask(load_config(args.config), COSTS, cost_report, opener=_open_costs,
               period=args.period, by=by)


def _open_costs(config: Config) -> Costs:
    """The ledger and budgets alone: reading spend needs no host probe and no provider key."""
    from tierd.app import open_state_db

    return open_costs(config, open_state_db(config))


def _summary(args: argparse.Namespace) -> int:
    report = _report(args, None)
    if args.json:
        print_json(report)
        return 0
    print(f"{report['period']} from {report['since']} to {report['until']}: "
          f"{report['calls']} calls, ${report['cost_usd']:.4f}")
    print(f"  ok {report['ok']}, errors {report['errors']}, cancelled {report['cancelled']}, "
          f"fallbacks {report['fallbacks']}, cache hits {report['cache_hits']}")
    print(f"  tokens: {report['prompt_tokens']} prompt, {report['completion_tokens']} completion")
    if report["budgets"]:
        print()
        print_table(["BUDGET", "PERIOD", "CAP", "SPENT", "RESERVED", "RESETS"], [
            [b["scope"] + (f" {b['name']}" if b["name"] else ""), b["period"],
             f"${b['cap_usd']:.2f}", f"${b['spent_usd']:.4f}", f"${b['reserved_usd']:.4f}",
             b["resets"]] for b in report["budgets"]])
    return 0


def _breakdown(args: argparse.Namespace) -> int:
    report = _report(args, args.by)
    if args.json:
        print_json(report["breakdown"])
        return 0
    print_table([args.by.upper(), "CALLS", "ERRORS", "FALLBACKS", "CACHE HITS", "PROMPT",
                 "COMPLETION", "COST", "AVG MS"], [
        [row[args.by], row["calls"], row["errors"], row["fallbacks"], row["cache_hits"],
         row["prompt_tokens"], row["completion_tokens"], f"${row['cost_usd']:.4f}",
         "-" if row["avg_latency_ms"] is None else row["avg_latency_ms"]]
        for row in report["breakdown"]])
    return 0
