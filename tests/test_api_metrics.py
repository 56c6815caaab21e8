"""`/metrics` and `/readyz` of a real `tierd serve`: series read from the budget manager, the
gates, the ledger and the job history at scrape time."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port, start_daemon, state_conn
from tierd.api.metrics import job_families, ledger_families
from tierd.api.readiness import readiness
from tierd.app import open_tierd
from tierd.config import parse_text
from tierd.costs.ledger import CallRecord, Ledger
from tierd.jobs import history

CHAT = "packaged:gemma3-270m"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, packaged_models_dir):
    root = tmp_path_factory.mktemp("metrics")
    d = start_daemon(root, packaged_models_dir,
                     f'[[models]]\nname = "{CHAT}"\ncontext_length = 1024\n')
    yield d
    d.stop()


def scrape(daemon) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of one scrape."""
    response = httpx.get(f"{daemon.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def call(request_id: str, **overrides) -> CallRecord:
    fields = dict(request_id=request_id, task="extract", tier="cheap", provider="openai",
                  model="gpt-test", host="openai", prompt_tokens=100, completion_tokens=20,
                  cost_usd=0.01, latency_ms=400.0, ttft_ms=100.0, fallback_reason=None,
                  cache_hit=False, status="ok")
    fields.update(overrides)
    return CallRecord(**fields)


def test_ledger_series_are_empty_on_a_fresh_ledger_then_count_rows(tmp_path):
    ledger = Ledger(state_conn(tmp_path / "state.db"))
    before = {f.name: f.samples for f in ledger_families(ledger)}
    assert set(before) == {"tierd_requests", "tierd_request_latency_seconds", "tierd_fallbacks",
                           "tierd_spend_usd", "tierd_tokens"}
    assert all(samples == [] for samples in before.values())
    ledger.record(call("a"))
    ledger.record(call("b", latency_ms=3000.0, status="error", fallback_reason="queue_full"))
    ledger.record(call("b", attempt=1, provider="local", host="local", cost_usd=0.0,
                       fallback_reason="queue_full", latency_ms=70.0))
    after = {f.name: {(s.name, tuple(sorted(s.labels.items()))): s.value for s in f.samples}
             for f in ledger_families(ledger)}
    requests = after["tierd_requests"]
    assert requests[("tierd_requests_total",
                     (("model", "gpt-test"), ("outcome", "ok"), ("tier", "cheap")))] == 2
    assert requests[("tierd_requests_total",
                     (("model", "gpt-test"), ("outcome", "error"), ("tier", "cheap")))] == 1
    latency = after["tierd_request_latency_seconds"]
    labels = (("model", "gpt-test"), ("tier", "cheap"))
    bucket = lambda le: latency[("tierd_request_latency_seconds_bucket",  # noqa: E731
                                 tuple(sorted(dict(labels, le=le).items())))]
    assert bucket("0.1") == 1 and bucket("0.5") == 2 and bucket("2.5") == 2
    assert bucket("5.0") == 3 and bucket("+Inf") == 3
    assert latency[("tierd_request_latency_seconds_sum", labels)] == pytest.approx(3.47)
    assert after["tierd_fallbacks"][("tierd_fallbacks_total", (("reason", "queue_full"),))] == 2
    spend = after["tierd_spend_usd"]
    assert spend[("tierd_spend_usd_total", (("provider", "openai"),))] == pytest.approx(0.02)
    assert spend[("tierd_spend_usd_total", (("provider", "local"),))] == 0


def test_job_runs_by_outcome(tmp_path):
    conn = state_conn(tmp_path / "state.db")
    assert [f.samples for f in job_families(conn)] == [[]]
    for status in ("ok", "ok", "error"):
        history.finish_run(conn, history.claim_run(conn, "index", "manual"), status, None, None)
    counts = {s.labels["outcome"]: s.value for f in job_families(conn) for s in f.samples}
    assert counts == {"ok": 2, "error": 1}


def test_scrape_shows_memory_models_queues_requests_and_spend(daemon):
    before = scrape(daemon)
    assert value(before, "tierd_memory_budget_bytes", host="local") > 0
    assert value(before, "tierd_memory_used_bytes", host="local") >= 0

    # A stream held open: the model is loaded, leased and its gate shows one running.
    with httpx.stream("POST", f"{daemon.url}/v1/chat/completions", timeout=60, json={
            "model": CHAT, "max_tokens": 900, "stream": True,
            "messages": [{"role": "user", "content": "Write a very long story."}]}) as response:
        lines = response.iter_lines()
        assert any("content" in next(lines) for _ in range(3))
        during = scrape(daemon)
    assert value(during, "tierd_queue_depth", model=CHAT, state="running") == 1
    assert value(during, "tierd_model_leases", host="local", model=CHAT) == 1
    assert value(during, "tierd_model_loaded_bytes", host="local", model=CHAT) > 1e8
    assert value(during, "tierd_memory_used_bytes", host="local") >= \
        value(during, "tierd_model_loaded_bytes", host="local", model=CHAT)

    # The ledger is the source of the request, fallback and spend series: rows written by
    # anyone (here, this test) show in the next scrape, without the daemon counting them.
    state_db = daemon.config_path.parent / "state" / "state.db"
    ledger = Ledger(state_conn(state_db))
    ledger.record(call("metrics-1", cost_usd=0.25))
    ledger.record(call("metrics-2", fallback_reason="budget_exhausted", status="error"))
    ledger.close()
    after = scrape(daemon)
    ok = dict(tier="cheap", model="gpt-test", outcome="ok")
    assert (
        value(after, "tierd_requests_total", **ok) - value(before, "tierd_requests_total", **ok)
        == 1
    )
    spent = value(after, "tierd_spend_usd_total", provider="openai") - \
        value(before, "tierd_spend_usd_total", provider="openai")
    assert spent == pytest.approx(0.26)
    assert value(after, "tierd_fallbacks_total", reason="budget_exhausted") - \
        value(before, "tierd_fallbacks_total", reason="budget_exhausted") == 1

    # Per-route HTTP counts from the request log; the route template, not the raw path.
    route = dict(route="/v1/chat/completions", method="POST", status="200")
    assert value(after, "tierd_http_requests_total", **route) >= 1
    assert value(after, "tierd_http_request_duration_seconds_count",
                 route="/v1/chat/completions", method="POST") >= 1
    httpx.post(f"{daemon.url}/models/no-such-model/unload")
    templated = scrape(daemon)
    assert value(templated, "tierd_http_requests_total", route="/models/{name:path}/{action}",
                 method="POST", status="404") == 1


def test_readyz_ok_with_databases_open_and_runtimes_reachable(daemon):
    response = httpx.get(f"{daemon.url}/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True and body["not_ready"] == []
    assert {c["name"] for c in body["checks"]} >= {"state.db", "host local"}


def test_readyz_names_an_unreachable_ollama_host(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    config = parse_text(f'state_dir = "{tmp_path}"\n'
                        f'[[hosts]]\nname = "local"\n'
                        f'[[hosts]]\nname = "box"\nruntime = "ollama"\nurl = "{dead}"\n'
                        'memory_budget = "8GiB"\n')
    report = readiness(open_tierd(config))
    assert report["ready"] is False and report["not_ready"] == ["host box"]
    detail = next(c for c in report["checks"] if c["name"] == "host box")["detail"]
    assert dead in detail and "did not answer" in detail
