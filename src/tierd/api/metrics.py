"""`GET /metrics` in Prometheus' text format.

Most series are read at scrape time from where the truth already lives — the model manager's
snapshot and queues, the ledger, the job history (through their owners' functions) — so a
restart loses no counts and nothing is counted twice. Only per-route HTTP counts and latency
come from the request-log middleware, in this process's memory.
"""

from __future__ import annotations

import logging
from typing import Any, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from tierd.app import Tierd
from tierd.costs.ledger import LATENCY_BUCKETS_S, Ledger
from tierd.db import connect, sqlite3
from tierd.jobs import history

log = logging.getLogger("tierd.metrics")

LATENCY_BUCKETS = LATENCY_BUCKETS_S
"""Seconds; the ledger's running totals count calls in these, so HTTP latency uses them too."""


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


def _labels(*values: Any) -> list[str]:
    return ["" if v is None else str(v) for v in values]


def ledger_families(ledger: Ledger) -> Iterator[Metric]:
    """Calls, latency, fallbacks, spend and tokens from the ledger."""
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
    found = ledger.metrics()
    for tier, model, status, calls in found.outcomes:
        requests.add_metric(_labels(tier, model, status), calls)
    for tier, model, calls, seconds, under in found.latency:
        buckets = [(repr(b), c) for b, c in zip(LATENCY_BUCKETS, under)]
        latency.add_metric(_labels(tier, model), buckets + [("+Inf", calls)], sum_value=seconds)
    for reason, calls in found.fallbacks.items():
        fallbacks.add_metric(_labels(reason), calls)
    for provider, usd, prompt, completion in found.providers:
        spend.add_metric(_labels(provider), usd or 0.0)
        tokens.add_metric(_labels(provider, "prompt"), prompt or 0)
        tokens.add_metric(_labels(provider, "completion"), completion or 0)
    yield from (requests, latency, fallbacks, spend, tokens)


def job_families(conn: Any) -> Iterator[Metric]:
    runs = CounterMetricFamily("tierd_job_runs", "Scheduled job runs, by outcome",
                               labels=["outcome"])
    for status, count in history.runs_by_status(conn).items():
        runs.add_metric(_labels(status), count)
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
    for model, counts in app.manager.queues().items():
        depth.add_metric([model, "running"], counts["running"])
        depth.add_metric([model, "waiting"], counts["waiting"])
    yield depth


class TierdCollector(Collector):
    def __init__(self, app: Tierd):
        self.app = app

    def collect(self) -> Iterator[Metric]:
        yield from memory_families(self.app)
        yield from queue_families(self.app)
        yield from _database_families(self.app)


def _database_families(app: Tierd) -> Iterator[Metric]:
    families: list[Metric] = []
    try:
        families.extend(ledger_families(app.costs.ledger))
        conn = connect(app.state_db, readonly=True)
        try:
            families.extend(job_families(conn))
        finally:
            conn.close()
    except sqlite3.Error as err:
        # A scrape must not fail because the database is busy; /readyz reports that.
        log.warning("metrics: could not read %s: %s", app.state_db, err)
    yield from families


def build_registry(app: Tierd) -> tuple[CollectorRegistry, HttpMetrics]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TierdCollector(app))
    return registry, HttpMetrics(registry)


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
