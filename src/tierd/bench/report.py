"""Benchmark runs as people read them (tables) and as scripts read them (JSON, CSV)."""

from __future__ import annotations

import csv
import io
from typing import Any

from tierd.bench.compare import Change
from tierd.bench.results import METRICS, MODEL_LEVEL, BenchRun, MetricRow


def number(value: float) -> str:
    """Three or four significant figures: enough to compare, few enough to read."""
    if value != value:  # NaN
        return "-"
    if value == float("inf"):
        return "inf"
    magnitude = abs(value)
    if value == int(value) or magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    return f"{value:.2f}" if magnitude >= 1 else f"{value:.3f}"


def _table(headers: list[str], rows: list[list[str]], numbers_from: int = 2) -> list[str]:
    """Columns from `numbers_from` on hold numbers and line up on the right."""
    cells = [headers] + rows
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    right = [i >= numbers_from for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if r else c.ljust(w)
                               for c, w, r in zip(row, widths, right)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def _where(row: MetricRow) -> str:
    return f"batch {row.batch_size}" if row.batch_size else f"c={row.concurrency}"


def format_run(run: BenchRun) -> str:
    settings = run.settings
    title = (f"run {run.id if run.id is not None else '(not stored)'}: {run.model} on {run.host}"
             f" ({run.device or 'unknown device'})  {run.quantization or 'unknown quant'}"
             f"  ctx {run.context_length}  {run.status}")
    if settings.get("kind") == "embedding":
        asked = (f"batches {','.join(map(str, settings['batch_sizes']))}, "
                 f"{settings['text_words']} words/text")
    else:
        asked = (f"prompt {settings['prompt_tokens']} tok, gen {settings['gen_tokens']} tok, "
                 f"concurrency {','.join(map(str, settings['concurrency']))}")
    lines = [title, f"{asked}, runs {settings['runs']}, warm-up {settings['warmup']}"]
    cold = run.row("cold_load_s", MODEL_LEVEL)
    if cold is not None:
        lines.append(f"cold load {number(cold.summary.p50)} s (unloaded, then leased)")
    lines.extend(run.notes)
    table_rows = [
        [_where(r), r.metric, number(r.summary.p50), number(r.summary.p95),
         number(r.summary.p99), number(r.summary.mean), str(r.summary.n)]
        for r in run.rows if r.concurrency != MODEL_LEVEL
    ]
    if table_rows:
        lines.append("")
        lines.extend(_table(["AT", "METRIC", "P50", "P95", "P99", "MEAN", "N"], table_rows))
    for error in run.errors:
        lines.append(f"error: {error}")
    return "\n".join(lines)


def format_history(runs: list[BenchRun]) -> str:
    rows = [[str(r.id), r.started_at, r.host, r.model, r.quantization or "-", r.status,
             _headline(r)] for r in runs]
    headers = ["ID", "STARTED", "HOST", "MODEL", "QUANT", "STATUS", "HEADLINE"]
    return "\n".join(_table(headers, rows, numbers_from=len(headers)))


def _headline(run: BenchRun) -> str:
    """The figures people look at first: latency to start and speed once started."""
    picks = [("ttft_ms", 1, 0, "TTFT {} ms"), ("decode_tps", 1, 0, "decode {} tok/s"),
             ("decode_bound_pct", 1, 0, "{} % of bound")]
    batches = run.settings.get("batch_sizes") or []
    if batches:
        picks = [("texts_per_s", 1, max(batches), f"{{}} texts/s at batch {max(batches)}")]
    parts = []
    for metric, concurrency, batch, template in picks:
        row = run.row(metric, concurrency, batch)
        if row is not None:
            parts.append(template.format(number(row.summary.p50)))
    return ", ".join(parts) or (run.errors[0] if run.errors else "-")


def format_comparison(before: BenchRun, after: BenchRun, changes: list[Change]) -> str:
    lines = [f"A = run {before.id}: {before.model} on {before.host}, {before.started_at}",
             f"B = run {after.id}: {after.model} on {after.host}, {after.started_at}"]
    differing = sorted(k for k in set(before.settings) | set(after.settings)
                       if before.settings.get(k) != after.settings.get(k))
    if differing:
        lines.append(f"note: the runs were asked for different {', '.join(differing)}")
    rows = [[f"batch {c.batch_size}" if c.batch_size else
             ("model" if c.concurrency == MODEL_LEVEL else f"c={c.concurrency}"),
             c.metric, number(c.before), number(c.after), f"{number(c.ratio)}x",
             f"±{c.spread:.0%}", c.verdict.upper()] for c in changes]
    lines.append("")
    lines.extend(_table(["AT", "METRIC", "A P50", "B P50", "B/A", "SPREAD", "CHANGE"], rows))
    flagged = [c for c in changes if c.verdict]
    lines.append("")
    lines.append(f"{len(flagged)} of {len(changes)} figures moved by more than the runs' spread"
                 if flagged else "no figure moved by more than the runs' own spread")
    return "\n".join(lines)


def run_as_dict(run: BenchRun) -> dict[str, Any]:
    return {
        "id": run.id, "started_at": run.started_at, "host": run.host, "device": run.device,
        "model": run.model, "quantization": run.quantization,
        "context_length": run.context_length, "status": run.status, "settings": run.settings,
        "versions": run.versions, "errors": list(run.errors), "notes": list(run.notes),
        "results": [
            {"concurrency": r.concurrency, "batch_size": r.batch_size, "metric": r.metric,
             "unit": METRICS[r.metric].unit, "p50": r.summary.p50, "p95": r.summary.p95,
             "p99": r.summary.p99, "mean": r.summary.mean, "n": r.summary.n}
            for r in run.rows
        ],
    }


CSV_FIELDS = ["run_id", "started_at", "host", "device", "model", "quantization",
              "concurrency", "batch_size", "metric", "unit", "p50", "p95", "p99", "mean", "n"]


def runs_as_csv(runs: list[BenchRun]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for run in runs:
        for r in run.rows:
            writer.writerow([run.id, run.started_at, run.host, run.device, run.model,
                             run.quantization, r.concurrency, r.batch_size, r.metric,
                             METRICS[r.metric].unit, r.summary.p50, r.summary.p95,
                             r.summary.p99, r.summary.mean, r.summary.n])
    return out.getvalue()
