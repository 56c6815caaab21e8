"""`tierd service install|uninstall|status`: run tierd under systemd or launchd."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from tierd.cli.output import print_json
from tierd.system_service.install import install_service, service_status, uninstall_service


def register(sub: argparse._SubParsersAction) -> None:
    service = sub.add_parser("service", help="install tierd as a systemd or launchd service")
    verbs = service.add_subparsers(dest="verb", metavar="VERB", parser_class=type(service))
    install = verbs.add_parser(
        "install", help="write the unit (Linux) or plist (macOS) for this install and print "
                        "the command that turns it on")
    _add_scope(install)
    install.add_argument("--dry-run", action="store_true",
                         help="print the file and where it would go; write nothing")
    install.set_defaults(handler=_install)
    uninstall = verbs.add_parser("uninstall", help="remove the service file")
    _add_scope(uninstall)
    uninstall.set_defaults(handler=_uninstall)
    status = verbs.add_parser("status", help="say whether the service is installed, current, "
                                             "enabled and running")
    _add_scope(status)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=_status)
    service.set_defaults(handler=lambda args: service.print_help() or 1)


def _add_scope(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--user", dest="scope", action="store_const", const="user",
                       help="a service of the current user (the default)")
    scope.add_argument("--system", dest="scope", action="store_const", const="system",
                       help="a system service that starts at boot (needs root)")
    parser.set_defaults(scope="user")


def _install(args: argparse.Namespace) -> int:
    result = install_service(args.scope, args.config, dry_run=args.dry_run)
    plan = result.plan
    if result.written:
        print(f"wrote {plan.path}")
    else:
        print(f"# would write {plan.path}:")
        sys.stdout.write(plan.content.decode("utf-8"))
    for warning in plan.warnings:
        print(f"tierd: warning: {warning}", file=sys.stderr)
    print("turn it on with:" if result.written else "# then turn it on with:")
    print(f"  {plan.enable_command}")
    if plan.manager == "systemd" and plan.scope == "user":
        # Without lingering, a user's services stop at logout: wrong for a headless box.
        print("to keep it running while you are logged out:" if result.written
              else "# to keep it running while you are logged out:")
        print("  loginctl enable-linger")
    return 0


def _uninstall(args: argparse.Namespace) -> int:
    result = uninstall_service(args.scope)
    if not result.removed:
        print(f"not installed: {result.path} does not exist")
        return 0
    print(f"removed {result.path}")
    print("if it is still running, stop it with:")
    print(f"  {result.stop_command}")
    return 0


def _status(args: argparse.Namespace) -> int:
    status = service_status(args.scope, args.config)
    if args.json:
        print_json(dataclasses.asdict(status))
        return 0
    print(f"tierd {status.scope} service ({status.manager})")
    if not status.installed:
        print(f"  installed: no ({status.path} does not exist)")
    else:
        print(f"  installed: {status.path}")
        current = {True: "yes", False: "no: re-run `tierd service install` to update it",
                   None: "unknown"}[status.current]
        print(f"  current:   {current}")
    if status.enabled is not None:
        print(f"  enabled:   {status.enabled}")
    print(f"  running:   {status.running or 'unknown'}")
    for note in status.notes:
        print(f"  note: {note}")
    return 0
