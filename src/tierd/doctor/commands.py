"""`tierd doctor [--json]`: one line per check, with the fix where one fails; exit 1 if any
fails."""

from __future__ import annotations

import argparse

from tierd.cli.output import print_json
from tierd.doctor.service import environment, failed, run_checks

MARKS = {"ok": "ok", "warn": "WARN", "fail": "FAIL"}


def register(sub: argparse._SubParsersAction) -> None:
    doctor = sub.add_parser("doctor", help="check this install and machine: SQLite, llama.cpp, "
                                           "GPUs, Ollama hosts, keys, the state folder")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.set_defaults(handler=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    checks = run_checks(args.config)
    if args.json:
        print_json({"ok": not failed(checks), "checks": [c.as_dict() for c in checks],
                    "environment": environment()})
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            line = f"{MARKS[c.status]:<4}  {c.name:<{width}}  {c.detail}"
            print(line + (f"; fix: {c.fix}" if c.fix and c.status != "ok" else ""))
    return 1 if failed(checks) else 0
