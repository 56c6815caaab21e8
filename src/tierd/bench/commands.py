"""`tierd bench run|history|compare`: latency benchmarks of local models and hosts."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
from pathlib import Path
from typing import Iterator

from tierd.bench.compare import compare_runs
from tierd.bench.report import (
    format_comparison,
    format_history,
    format_run,
    run_as_dict,
    runs_as_csv,
)
from tierd.bench.settings import (
    DEFAULT_BATCH_SIZES,
    BenchError,
    EmbeddingSettings,
    GenerationSettings,
    parse_levels,
)
from tierd.bench.store import list_runs, load_run
from tierd.cli.output import print_json
from tierd.config import load_config
from tierd.db import connect


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="benchmark models: latency, tokens/s, history")
    verbs = bench.add_subparsers(dest="verb", metavar="VERB", parser_class=type(bench))

    run = verbs.add_parser("run", help="benchmark models (cold load, TTFT, tokens/s, ...) "
                                       "and store the results")
    run.add_argument("models", nargs="+", metavar="MODEL")
    run.add_argument("--host", help="benchmark on this host (default: the model's host)")
    run.add_argument("--prompt-tokens", type=int, default=512, metavar="N")
    run.add_argument("--gen-tokens", type=int, default=128, metavar="N")
    run.add_argument("--concurrency", default="1", metavar="LIST",
                     help="requests in flight at once, e.g. 1,2,4 (default 1)")
    run.add_argument("--batch-sizes", default=",".join(map(str, DEFAULT_BATCH_SIZES)),
                     metavar="LIST", help="texts per embed call for embedding models")
    run.add_argument("--runs", type=int, default=5, metavar="N",
                     help="measured rounds per concurrency level or batch size (default 5)")
    run.add_argument("--warmup", type=int, default=1, metavar="N",
                     help="rounds sent first and left out (default 1)")
    run.add_argument("--json", metavar="FILE", help="also write the runs as JSON ('-': stdout)")
    run.add_argument("--csv", metavar="FILE", help="also write every figure as CSV")
    run.set_defaults(handler=_run)

    history = verbs.add_parser("history", help="list stored benchmark runs, newest first")
    history.add_argument("model", nargs="?", metavar="MODEL")
    history.add_argument("--limit", type=int, default=50, metavar="N")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.set_defaults(handler=_history)

    compare = verbs.add_parser("compare", help="ratios between two stored runs, flagging "
                                               "changes beyond their own spread")
    compare.add_argument("before", type=int, metavar="RUN_A")
    compare.add_argument("after", type=int, metavar="RUN_B")
    compare.add_argument("--json", action="store_true", help="print JSON")
    compare.set_defaults(handler=_compare)
    bench.set_defaults(handler=lambda args: bench.print_help() or 1)


def settings_from_args(args: argparse.Namespace) -> tuple[GenerationSettings, EmbeddingSettings]:
    """Every flag checked before a model is touched."""
    generation = GenerationSettings(
        prompt_tokens=args.prompt_tokens, gen_tokens=args.gen_tokens,
        concurrency=parse_levels(args.concurrency), runs=args.runs, warmup=args.warmup)
    embedding = EmbeddingSettings(
        batch_sizes=parse_levels(args.batch_sizes, "--batch-sizes"), runs=args.runs,
        warmup=args.warmup)
    return generation, embedding


def open_state(config_path: str | None):
    from tierd.app import open_state_db

    return open_state_db(load_config(config_path))


@contextlib.contextmanager
def progress_bar(total: int, enabled: bool) -> Iterator:
    from tqdm import tqdm

    with tqdm(total=total, file=sys.stderr, unit="req", disable=not enabled,
              dynamic_ncols=True) as bar:
        yield bar.update


def _run(args: argparse.Namespace) -> int:
    from tierd.app import open_tierd
    from tierd.bench.service import plan, planned_work, run_planned, store

    generation, embedding = settings_from_args(args)
    json_to_stdout = args.json == "-"
    app = open_tierd(load_config(args.config))
    planned = plan(app, list(args.models), args.host)
    conn = connect(app.state_db)
    runs = []
    show_bar = sys.stderr.isatty() and not json_to_stdout
    with progress_bar(planned_work(planned, generation, embedding), show_bar) as advance:
        for item in planned:
            run = store(conn, run_planned(item, generation, embedding, advance))
            runs.append(run)
            if not json_to_stdout:
                print(format_run(run) + "\n", flush=True)
    if args.json:
        data = [run_as_dict(r) for r in runs]
        if json_to_stdout:
            print_json(data)
        else:
            Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    if args.csv:
        Path(args.csv).write_text(runs_as_csv(runs))
    # A run with errors still printed and stored its figures; the exit status says it was not clean.
    return 0 if all(r.status == "ok" for r in runs) else 1


def _history(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise BenchError(f"--limit: {args.limit} is not allowed (it must be positive)")
    runs = list_runs(open_state(args.config), args.model, args.limit)
    if args.json:
        print_json([run_as_dict(r) for r in runs])
    elif not runs:
        print(f"no benchmark runs{' of ' + args.model if args.model else ''} stored yet "
              "(try `tierd bench run MODEL`)")
    else:
        print(format_history(runs))
    return 0


def _compare(args: argparse.Namespace) -> int:
    conn = open_state(args.config)
    before, after = load_run(conn, args.before), load_run(conn, args.after)
    changes = compare_runs(before, after)
    if args.json:
        print_json({"before": before.id, "after": after.id,
                    "changes": [dataclasses.asdict(c) for c in changes]})
    else:
        print(format_comparison(before, after, changes))
    return 0
