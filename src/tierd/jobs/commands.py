"""`tierd jobs list|run|history`.

With a daemon running, `run` starts the job in the daemon (which holds the models and the
schedule) and follows it to the end; without one, it runs here. Either way the run is one row
in the same history.
"""

from __future__ import annotations

import argparse
import time

from tierd.api import paths
from tierd.cli.daemon import ask
from tierd.cli.output import print_json, print_table
from tierd.config import load_config
from tierd.jobs.service import get_run, job_history, list_jobs, run_job
from tierd.net import parse_listen

POLL_SECONDS = 0.5
SHOWN_COUNTS = ("files_seen", "files_indexed", "files_unchanged", "files_deleted",
                "chunks_embedded", "chunks_reused", "summaries_made", "seconds")


def register(sub: argparse._SubParsersAction) -> None:
    jobs = sub.add_parser("jobs", help="scheduled jobs (the nightly index rebuild): list, run, "
                                       "history")
    verbs = jobs.add_subparsers(dest="jobs_command", metavar="VERB", required=True,
                                parser_class=type(jobs))

    listing = verbs.add_parser("list", help="jobs with their schedule, next and last run")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)

    run = verbs.add_parser("run", help="run a job now and wait for it (in the daemon if one "
                                       "is running)")
    run.add_argument("name")
    run.add_argument("--json", action="store_true", help="print the finished run as JSON")
    run.set_defaults(handler=_run)

    past = verbs.add_parser("history", help="past runs, newest first")
    past.add_argument("name", nargs="?", help="only this job's runs")
    past.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")
    past.add_argument("--json", action="store_true", help="print JSON")
    past.set_defaults(handler=_history)


def _when(stamp: float | None) -> str:
    return "-" if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def _list(args: argparse.Namespace) -> int:
    rows = ask(load_config(args.config), paths.JOBS, list_jobs)["jobs"]
    if args.json:
        print_json(rows)
        return 0
    print_table(["JOB", "KIND", "CRON", "ENABLED", "NEXT RUN", "LAST RUN", "STATUS"],
                [[r["name"], r["kind"], r["cron"], "yes" if r["enabled"] else "no",
                  (r["next_run"] or "-")[:16].replace("T", " "),
                  _when(r["last_run"]["started_at"]) if r["last_run"] else "-",
                  r["last_run"]["status"] if r["last_run"] else "-"] for r in rows])
    return 0


def _run(args: argparse.Namespace) -> int:
    return run_and_follow(args.config, args.name, args.json)


def run_and_follow(config_path: str | None, name: str, as_json: bool) -> int:
    """Run job `name` to its end, in the daemon (following the run) or here; print it."""
    config = load_config(config_path)
    run = ask(config, paths.RUN_JOB, run_job, name=name)
    if run["status"] == "running":
        print(f"{name}: run {run['id']} started in the daemon at "
              f"{parse_listen(config.server.listen).url}", flush=True)
    while run["status"] == "running":
        time.sleep(POLL_SECONDS)
        run = ask(config, paths.JOB_RUN, get_run, run_id=run["id"])
    if as_json:
        print_json(run)
    else:
        _print_run(run)
    return 0 if run["status"] == "ok" else 1


def _print_run(run: dict) -> None:
    took = (run["ended_at"] or time.time()) - run["started_at"]
    print(f"{run['job']} run {run['id']}: {run['status']} after {took:.1f}s")
    counts = run.get("counts") or {}
    for key in SHOWN_COUNTS:
        if key in counts:
            value = counts[key]
            shown = round(value, 1) if isinstance(value, float) else value
            print(f"  {key.replace('_', ' ')}: {shown}")
    for reason, count in sorted((counts.get("skips") or {}).get("counts", {}).items(),
                                key=lambda kv: -kv[1]):
        print(f"  skipped {count} × {reason}")
    if run.get("error"):
        print(f"  error: {run['error']}")


def _history(args: argparse.Namespace) -> int:
    runs = ask(load_config(args.config), paths.JOB_HISTORY, job_history, job=args.name,
               limit=args.limit)["runs"]
    if args.json:
        print_json(runs)
        return 0
    print_table(["RUN", "JOB", "TRIGGER", "STARTED", "SECONDS", "STATUS", "ERROR"],
                [[r["id"], r["job"], r["trigger"], _when(r["started_at"]),
                  "-" if r["ended_at"] is None else f"{r['ended_at'] - r['started_at']:.1f}",
                  r["status"], (r["error"] or "")[:80]] for r in runs])
    return 0
