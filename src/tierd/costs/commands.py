"""`tierd cost summary|breakdown|alerts` and `tierd keys create|list|revoke`: what routed calls
cost, from the ledger (as GET /costs), the alerts, and the agent keys (as /keys)."""

from __future__ import annotations

import argparse

from tierd.api.paths import COST_ALERTS, COSTS, KEY_CREATE, KEY_REVOKE, KEYS
from tierd.cli.daemon import ask
from tierd.cli.output import print_json, print_table
from tierd.config import Config, load_config
from tierd.costs.ledger import BREAKDOWN_KEYS
from tierd.costs.periods import PERIODS
from tierd.costs.service import (
    Costs,
    alert_report,
    cost_report,
    create_key,
    list_keys,
    open_costs,
    revoke_key,
)
from tierd.errors import TierdError
from tierd.routing.tasks import TIERS


def register(sub: argparse._SubParsersAction) -> None:
    cost = sub.add_parser("cost", help="what calls cost: totals, breakdowns, budgets, alerts")
    verbs = cost.add_subparsers(dest="verb", metavar="VERB", parser_class=type(cost))
    summary = verbs.add_parser("summary", help="totals for the current UTC day, week or month, "
                                               "each budget's and plan's standing, the savings")
    breakdown = verbs.add_parser("breakdown", help="totals per provider, model, task, tier or "
                                                   "agent key")
    breakdown.add_argument("--by", required=True, choices=BREAKDOWN_KEYS)
    for verb in (summary, breakdown):
        verb.add_argument("--period", default="day", choices=PERIODS,
                          help="the current UTC day (default), week (from Monday) or month")
    alerts = verbs.add_parser("alerts", help="the configured alerts, their value now and when "
                                             "each last fired")
    for verb in (summary, breakdown, alerts):
        verb.add_argument("--json", action="store_true", help="print JSON")
    summary.set_defaults(handler=_summary)
    breakdown.set_defaults(handler=_breakdown)
    alerts.set_defaults(handler=_alerts)
    cost.set_defaults(handler=lambda args: cost.print_help() or 1)

    keys = sub.add_parser("keys", help="API keys per agent: attributed, capped, limited to tiers")
    key_verbs = keys.add_subparsers(dest="verb", metavar="VERB", parser_class=type(keys))
    create = key_verbs.add_parser("create", help="make a key (shown once) for one agent")
    create.add_argument("name", help="the agent's name, as the ledger will show it")
    create.add_argument("--daily", type=float, metavar="USD", help="cap on its spend per UTC day")
    create.add_argument("--weekly", type=float, metavar="USD",
                        help="cap on its spend per UTC week")
    create.add_argument("--tiers", metavar="LIST",
                        help=f"comma-separated tiers it may use ({','.join(TIERS)}); "
                             "default: all")
    listing = key_verbs.add_parser("list", help="every key (never the key itself), with spend")
    revoke = key_verbs.add_parser("revoke", help="revoke a key: its next request gets 401")
    revoke.add_argument("name")
    for verb in (create, listing, revoke):
        verb.add_argument("--json", action="store_true", help="print JSON")
    create.set_defaults(handler=_create_key)
    listing.set_defaults(handler=_list_keys)
    revoke.set_defaults(handler=_revoke_key)
    keys.set_defaults(handler=lambda args: keys.print_help() or 1)


def _open_costs(config: Config) -> Costs:
    """The ledger, budgets and keys alone: reading spend needs no host probe and no provider
    key."""
    from tierd.app import open_state_db

    return open_costs(config, open_state_db(config))


def _ask(args: argparse.Namespace, endpoint, local, **params):
    return ask(load_config(args.config), endpoint, local, opener=_open_costs, **params)


def _usd(value: float) -> str:
    return f"-${-value:.4f}" if value < 0 else f"${value:.4f}"


def _summary(args: argparse.Namespace) -> int:
    report = _ask(args, COSTS, cost_report, period=args.period, by=None)
    if args.json:
        print_json(report)
        return 0
    print(f"{report['period']} from {report['since']} to {report['until']}: "
          f"{report['calls']} calls, ${report['cost_usd']:.4f} at the margin "
          f"(${report['list_usd']:.4f} at list price)")
    print(f"  ok {report['ok']}, errors {report['errors']}, cancelled {report['cancelled']}, "
          f"fallbacks {report['fallbacks']}, cache hits {report['cache_hits']}")
    print(f"  tokens: {report['prompt_tokens']} prompt ({report['cache_read_tokens']} from the "
          f"providers' caches), {report['completion_tokens']} completion")
    saved = report["savings"]
    line = (f"  savings: {_usd(saved['saved_vs_list_usd'])} against list prices "
            f"(plan fees {_usd(saved['plan_fees_usd'])} counted)")
    if saved["frontier_model"] is not None:
        line += (f"; {_usd(saved['saved_usd'])} against all on "
                 f"{saved['frontier_model']} ({_usd(saved['frontier_usd'])})")
    print(line)
    if report["budgets"]:
        print()
        print_table(["BUDGET", "PERIOD", "CAP", "SPENT", "RESERVED", "RESETS"], [
            [b["scope"] + (f" {b['name']}" if b["name"] else ""), b["period"],
             f"${b['cap_usd']:.2f}", f"${b['spent_usd']:.4f}", f"${b['reserved_usd']:.4f}",
             b["resets"]] for b in report["budgets"]])
    rows = []
    for plan in report["plans"]:
        models = ",".join(plan["models"]) or "all models"
        for limit in plan["limits"] or [None]:
            used = "-" if limit is None else "; ".join(
                f"{limit[k]}/{limit['max_' + k]} {k}" for k in ("requests", "tokens")
                if limit["max_" + k] is not None)
            rows.append([f"{plan['provider']} ({models})", plan["kind"],
                         "-" if limit is None else limit["per"], used,
                         "-" if limit is None or limit["resets"] is None else limit["resets"]])
    if rows:
        print()
        print_table(["PLAN", "KIND", "PER", "USED", "SPENT UNTIL"], rows)
    return 0


def _breakdown(args: argparse.Namespace) -> int:
    report = _ask(args, COSTS, cost_report, period=args.period, by=args.by)
    if args.json:
        print_json(report["breakdown"])
        return 0
    print_table([args.by.upper(), "CALLS", "ERRORS", "FALLBACKS", "CACHE HITS", "PROMPT",
                 "COMPLETION", "COST", "LIST", "AVG MS"], [
        [row[args.by] or "-", row["calls"], row["errors"], row["fallbacks"], row["cache_hits"],
         row["prompt_tokens"], row["completion_tokens"], f"${row['cost_usd']:.4f}",
         f"${row['list_usd']:.4f}",
         "-" if row["avg_latency_ms"] is None else row["avg_latency_ms"]]
        for row in report["breakdown"]])
    return 0


def _alerts(args: argparse.Namespace) -> int:
    report = _ask(args, COST_ALERTS, alert_report)
    if args.json:
        print_json(report["alerts"])
        return 0
    if not report["alerts"]:
        print("no alerts: add [[alerts]] to the config, or set budgets")
        return 0

    def threshold(alert: dict) -> str:
        if alert["threshold_usd"] is not None:
            return f"${alert['threshold_usd']:.2f}"
        return f"{100 * alert['fraction']:.0f} % of {alert['of']}"

    def value(alert: dict) -> str:
        if alert["value"] is None:
            return "-"
        if alert["of"] == "quota":
            return f"{100 * alert['value']:.0f} %"
        return f"${alert['value']:.4f}"

    print_table(["ALERT", "SCOPE", "PERIOD", "AT", "NOW", "LAST FIRED", "WEBHOOK"], [
        [a["name"], a["scope"] + (f" {a['target']}" if a["target"] else ""), a["period"],
         threshold(a), value(a), a["last_fired"] or "never",
         "-" if a["webhook"] is None else
         f"{a['webhook']} ({'delivered' if a['delivered'] else a['delivery_error'] or 'pending'})"
         if a["last_fired"] else a["webhook"]]
        for a in report["alerts"]])
    return 0


def _create_key(args: argparse.Namespace) -> int:
    tiers = [t.strip() for t in (args.tiers or "").split(",") if t.strip()]
    if args.tiers is not None and not tiers:
        raise TierdError("--tiers: name at least one tier, e.g. --tiers local,cheap")
    made = _ask(args, KEY_CREATE, create_key, name=args.name, daily=args.daily,
                weekly=args.weekly, tiers=tiers)
    if args.json:
        print_json(made)
        return 0
    print(made["key"])
    limits = [f"${made[k]:.2f} {k.removesuffix('_usd')}" for k in ("daily_usd", "weekly_usd")
              if made[k] is not None]
    print(f"key {made['name']!r} made ({', '.join(limits) or 'no caps'}; tiers: "
          f"{', '.join(made['tiers']) or 'all'}). It is shown only now: give it to the agent "
          "as its API key (Authorization: Bearer ...).")
    if not str(load_config(args.config).server.token):
        print("note: server.token is not set, so requests without a key are still served; set "
              "it to make every agent use its key.")
    return 0


def _list_keys(args: argparse.Namespace) -> int:
    report = _ask(args, KEYS, list_keys)
    if args.json:
        print_json(report["keys"])
        return 0
    if not report["keys"]:
        print("no keys yet: tierd keys create NAME")
        return 0

    def spent(key: dict, period: str) -> str:
        for b in key["budgets"]:
            if b["period"] == period:
                return f"${b['spent_usd']:.4f}/${b['cap_usd']:.2f}"
        return "-"

    print_table(["NAME", "KEY", "CREATED", "TIERS", "DAY", "WEEK", "STATE"], [
        [k["name"], k["prefix"] + "…", k["created"], ",".join(k["tiers"]) or "all",
         spent(k, "day"), spent(k, "week"),
         "live" if k["revoked"] is None else f"revoked {k['revoked']}"]
        for k in report["keys"]])
    return 0


def _revoke_key(args: argparse.Namespace) -> int:
    revoked = _ask(args, KEY_REVOKE, revoke_key, name=args.name)
    if args.json:
        print_json(revoked)
    else:
        print(f"key {revoked['name']!r} revoked: its next request gets 401")
    return 0
