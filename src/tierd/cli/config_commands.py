"""`tierd config show|check`."""

from __future__ import annotations

import argparse
import json

from tierd.config import load_config, to_dict, to_toml
from tierd.costs.service import check_provider_prices
from tierd.hosts.probe import probe_hosts
from tierd.runtimes.cloud import build_providers


def register(sub: argparse._SubParsersAction) -> None:
    config = sub.add_parser("config", help="show or check the configuration")
    verbs = config.add_subparsers(dest="verb", metavar="VERB", parser_class=type(config))
    show = verbs.add_parser("show", help="print the effective config, defaults filled in, "
                                         "secrets masked")
    show.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    show.set_defaults(handler=_show)
    check = verbs.add_parser("check", help="validate a config file; exit 1 with one line "
                                           "per problem")
    check.add_argument("file", nargs="?", help="file to check (default: the one in use)")
    check.set_defaults(handler=_check)
    config.set_defaults(handler=lambda args: config.print_help() or 1)


def _show(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    data = to_dict(config)
    if args.json:
        print(json.dumps({"source": config.source, "config": data}, indent=2))
    else:
        print(f"# effective config, from {config.source}")
        print(to_toml(data), end="")
    return 0


def _check(args: argparse.Namespace) -> int:
    config = load_config(args.file or args.config)
    # What only the machine can tell: a reserve or budget larger than the device, a remote
    # host with no budget, a provider whose key variable is unset, a model with no price.
    probe_hosts(config)
    build_providers(config)
    check_provider_prices(config)
    print(f"{config.source}: ok ({len(config.hosts)} host(s), {len(config.models)} model(s))")
    return 0
