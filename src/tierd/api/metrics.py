"""`GET /metrics` in Prometheus' text format.

Most series are read at scrape time from where the truth already lives — the budget manager's
snapshot, the request gates, the ledger table `calls`, the job history `job_runs` — so a
restart loses no counts and nothing is counted twice. Only per-route HTTP counts and latency
come from the request-log middleware, in this process's memory.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                    HistogramMetricFamily, Metric)
from prometheus_client.registry import Collector

from ..app import Tierd
from ..db import connect, sqlite3
from ..inference import gates

log = logging.getLogger("tierd.metrics")

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
"""Seconds; from an embedding batch (tens of ms) to a long local generation (minutes)."""


class HttpMetrics:
    """Requests and latency per route, fed by the request-log middleware."""

    def __init__(self, registry: CollectorRegistry):
        self.requests = Counter("tierd_http_requests", "HTTP requests answered, by route "
                                "template, method and status code",
                                ["route", "method", "status"], registry=registry)
        self.latency = Histogram("tierd_http_request_duration_seconds", "Time from request "
                                 "to the last byte of the response, by route template",
                                 ["route", "method"], buckets=LATENCY_BUCKETS, registry=registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)


def _columns(conn: Any, table: str) -> set[str]:
    return {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}


def _labels(*values: Any) -> list[str]:
    return ["" if v is None else str(v) for v in values]


def ledger_families(conn: Any) -> Iterator[Metric]:
    """Calls, latency, fallbacks, spend and tokens from the ledger; zero series before the
    ledger table exists (a fresh install, or a tierd without the costs part)."""
    requests = CounterMetricFamily("tierd_requests", "Model calls recorded in the ledger (one "
                                   "per attempt, fallbacks included), by tier, model and outcome",
                                   labels=["tier", "model", "outcome"])
    latency = HistogramMetricFamily("tierd_request_latency_seconds", "Latency of model calls "
                                    "recorded in the ledger, by tier and model",
                                    labels=["tier", "model"])
    fallbacks = CounterMetricFamily("tierd_fallbacks", "Calls that fell back to another model "
                                    "or provider, by reason", labels=["reason"])
    spend = CounterMetricFamily("tierd_spend_usd", "Money spent, by provider (local is $0)",
                                labels=["provider"])
    tokens = CounterMetricFamily("tierd_tokens", "Tokens in and out, by provider",
                                 labels=["provider", "kind"])
    columns = _columns(conn, "calls")
    if {"tier", "model", "status", "latency_ms"} <= columns:
        for row in conn.execute("SELECT tier, model, status, COUNT(*) FROM calls "
                                "GROUP BY tier, model, status"):
            requests.add_metric(_labels(row[0], row[1], row[2]), row[3])
        # Cumulative bucket counts in one pass, as Prometheus histograms expect them.
        bucket_sums = ", ".join(f"SUM(latency_ms <= {b * 1000})" for b in LATENCY_BUCKETS)
        for row in conn.execute(f"SELECT tier, model, COUNT(*), SUM(latency_ms), {bucket_sums} "
                                "FROM calls GROUP BY tier, model"):
            counts = [row[4 + i] or 0 for i in range(len(LATENCY_BUCKETS))]
            buckets = [(repr(b), c) for b, c in zip(LATENCY_BUCKETS, counts)]
            latency.add_metric(_labels(row[0], row[1]), buckets + [("+Inf", row[2])],
                               sum_value=(row[3] or 0) / 1000)
    if "fallback_reason" in columns:
        for row in conn.execute("SELECT fallback_reason, COUNT(*) FROM calls WHERE "
                                "fallback_reason IS NOT NULL GROUP BY fallback_reason"):
            fallbacks.add_metric(_labels(row[0]), row[1])
    if {"provider", "cost_usd"} <= columns:
        for row in conn.execute("SELECT provider, SUM(cost_usd) FROM calls GROUP BY provider"):
            spend.add_metric(_labels(row[0]), row[1] or 0.0)
    if {"provider", "prompt_tokens", "completion_tokens"} <= columns:
        for row in conn.execute("SELECT provider, SUM(prompt_tokens), SUM(completion_tokens) "
                                "FROM calls GROUP BY provider"):
            tokens.add_metric(_labels(row[0], "prompt"), row[1] or 0)
            tokens.add_metric(_labels(row[0], "completion"), row[2] or 0)
    yield from (requests, latency, fallbacks, spend, tokens)


def job_families(conn: Any) -> Iterator[Metric]:
    runs = CounterMetricFamily("tierd_job_runs", "Scheduled job runs, by outcome",
                               labels=["outcome"])
    if "status" in _columns(conn, "job_runs"):
        for row in conn.execute("SELECT status, COUNT(*) FROM job_runs GROUP BY status"):
            runs.add_metric(_labels(row[0]), row[1])
    yield runs


def memory_families(app: Tierd) -> Iterator[Metric]:
    used = GaugeMetricFamily("tierd_memory_used_bytes", "Bytes held by loaded models and "
                             "external loads, per host", labels=["host"])
    budget = GaugeMetricFamily("tierd_memory_budget_bytes", "Bytes tierd may give to models, "
                               "per host", labels=["host"])
    loaded = GaugeMetricFamily("tierd_model_loaded_bytes", "Bytes of each loaded model (a "
                               "series exists only while it is loaded)", labels=["host", "model"])
    leases = GaugeMetricFamily("tierd_model_leases", "Requests using each loaded model now",
                               labels=["host", "model"])
    waiting_for_load = GaugeMetricFamily("tierd_host_queue_depth", "Requests waiting for a "
                                         "load decision on each host", labels=["host"])
    for host, state in app.manager.snapshot().items():
        used.add_metric([host], state["used"])
        budget.add_metric([host], state["budget"])
        waiting_for_load.add_metric([host], state["queue_depth"])
        for model in state["models"]:
            loaded.add_metric([host, model["name"]], model["bytes"])
            leases.add_metric([host, model["name"]], model["leases"])
    yield from (used, budget, loaded, leases, waiting_for_load)


def queue_families(app: Tierd) -> Iterator[Metric]:
    depth = GaugeMetricFamily("tierd_queue_depth", "Requests running on or waiting for each "
                              "model", labels=["model", "state"])
    for model, counts in gates(app).depth().items():
        depth.add_metric([model, "running"], counts["running"])
        depth.add_metric([model, "waiting"], counts["waiting"])
    yield depth


class TierdCollector(Collector):
    def __init__(self, app: Tierd):
        self.app = app

    def collect(self) -> Iterator[Metric]:
        yield from memory_families(self.app)
        yield from queue_families(self.app)
        yield from _database_families(self.app.state_db)


def _database_families(state_db: Path) -> Iterator[Metric]:
    families: list[Metric] = []
    try:
        conn = connect(state_db, readonly=True)
        try:
            families.extend(ledger_families(conn))
            families.extend(job_families(conn))
        finally:
            conn.close()
    except sqlite3.Error as err:
        # A scrape must not fail because the database is busy or new; /readyz reports that.
        log.warning("metrics: could not read %s: %s", state_db, err)
    yield from families


def build_registry(app: Tierd) -> tuple[CollectorRegistry, HttpMetrics]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TierdCollector(app))
    return registry, HttpMetrics(registry)


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
