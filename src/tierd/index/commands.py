"""`tierd search` and `tierd index status|rebuild`.

With a daemon running they ask it (it holds the embedding model warm and owns the index
writes); without one they run here, on the same functions (tierd.index.service, the
index-rebuild job).
"""

from __future__ import annotations

import argparse
import time

from tierd.api import paths
from tierd.cli.daemon import ask
from tierd.cli.output import print_json, print_table
from tierd.config import load_config
from tierd.index.search import KINDS, MAX_K
from tierd.index.service import index_status, search_index
from tierd.jobs.commands import run_and_follow

REBUILD_JOB = "index-rebuild"


def register(sub: argparse._SubParsersAction) -> None:
    find = sub.add_parser("search", help="search the semantic index (meaning and keywords)")
    find.add_argument("query", help="what to look for, in words or identifiers")
    find.add_argument("-k", type=int, default=10, help=f"how many results (1-{MAX_K}, "
                                                       "default 10)")
    find.add_argument("--source", help="only this configured source")
    find.add_argument("--path", metavar="GLOB", help='only paths matching GLOB ("**/*.py")')
    find.add_argument("--kind", choices=KINDS, help="only file chunks or only file summaries")
    find.add_argument("--explain", action="store_true",
                      help="show each hit's vector rank, keyword rank and fused score")
    find.add_argument("--json", action="store_true", help="print JSON")
    find.set_defaults(handler=_search)

    index = sub.add_parser("index", help="the semantic index: status, rebuild")
    verbs = index.add_subparsers(dest="index_command", metavar="VERB", required=True,
                                 parser_class=type(index))
    status = verbs.add_parser("status", help="files, chunks, models and the last run")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=_status)
    rebuild = verbs.add_parser("rebuild", help=f"bring the index up to date now (runs the "
                                               f"{REBUILD_JOB} job)")
    rebuild.add_argument("--json", action="store_true", help="print the finished run as JSON")
    rebuild.set_defaults(handler=_rebuild)


def _search(args: argparse.Namespace) -> int:
    # POST: a query too long for a URL still reaches the daemon whole.
    result = ask(load_config(args.config), paths.SEARCH_POST, search_index, q=args.query,
                 k=args.k, source=args.source, path=args.path, kind=args.kind,
                 explain=args.explain)
    if args.json:
        print_json(result)
        return 0
    if result.get("warning"):
        print(f"note: {result['warning']}")
    if not result["hits"]:
        print("no matches")
    for n, hit in enumerate(result["hits"], 1):
        where = f"{hit['source']}:{hit['path']}:{hit['start_line']}-{hit['end_line']}"
        label = " (summary)" if hit["kind"] == "summary" else ""
        print(f"{n}. {where}{label}  score {hit['score']:.4f}")
        if "explain" in hit:
            print(f"     {explanation(hit['explain'])}")
        for line in hit["snippet"].splitlines():
            print(f"     {line}")
    return 0


def explanation(details: dict) -> str:
    """One line: where the hit stood in each list and what the fusion made of it."""
    def place(rank: int | None, score: float | None) -> str:
        where = "-" if rank is None else f"#{rank}"
        return where if score is None else f"{where} ({score:.4f})"

    line = (f"vector {place(details['vector_rank'], details['vector_score'])}  "
            f"keyword {place(details['keyword_rank'], details['keyword_score'])}")
    if details["summary_score"]:
        line += f"  summary {details['summary_score']:.4f}"
    if details["name_score"]:
        line += f"  name {details['name_score']:.2f}"
    return f"{line}  fused {details['fused_score']:.4f}"


def _status(args: argparse.Namespace) -> int:
    status = ask(load_config(args.config), paths.INDEX_STATUS, index_status)
    if args.json:
        print_json(status)
        return 0
    print(f"index: {status['path']}")
    print(f"files: {status['files']}  chunks: {status['chunks']}  "
          f"summaries: {status['summaries']}")
    print(f"searching with: {status['active_model'] or '-'}  "
          f"(configured: {status['configured_model_id'] or status['configured_model']})")
    for model in status["models"]:
        if model["query_prefix"] or model["document_prefix"]:
            print(f"prefixes of {model['embedder_id'] or model['model_id']}: queries "
                  f"{model['query_prefix']!r}, documents {model['document_prefix']!r}")
    if status["sources"]:
        print_table(["SOURCE", "FILES"], sorted(status["sources"].items()))
    run = status["last_run"]
    if run is None:
        print("last run: never")
    else:
        ended = run["finished_at"]
        state = "unfinished" if ended is None else \
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ended))
        print(f"last run: {state} with {run['model_id']}")
        stats = run["stats"] or {}
        for reason, count in sorted(stats.get("skips", {}).get("counts", {}).items(),
                                    key=lambda kv: -kv[1]):
            print(f"  skipped {count} × {reason}")
        for error in stats.get("errors", []):
            print(f"  error: {error}")
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    return run_and_follow(args.config, REBUILD_JOB, args.json)
