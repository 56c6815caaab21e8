"""A hostile client and a careless provider against a real, tokenless `tierd serve`: request
ids cannot merge calls in the ledger, web pages cannot drive the daemon, a provider that counts
more than tierd estimated cannot take a budget past its cap, text that is not Unicode and
absurd lengths are clean 400s, and the state on disk is the user's alone.
"""

from __future__ import annotations

import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import Daemon, free_port, start_daemon, state_conn
from tests.openai_test_server import start_openai_server
from tierd.costs.ledger import Ledger
from tierd.db import connect

KEY_VARIABLE = "TIERD_TEST_TRUST_KEY"
CHAT = "packaged:gemma3-270m"
EMBED = "packaged:all-minilm"
BILLED_CAP = 0.3
"""$ a day for provider `billed`: a few calls at its price of $1000 per million tokens."""
COUNTING_CAP = 0.5
"""$ a day for provider `counting`, whose stand-in reports 3x the prompt tokens it counted."""
COUNTING_PRICE = 10.0
LONG_PROMPT = ("Extract every invoice number and due date from the following text. " * 30)


@pytest.fixture(scope="module")
def cloud():
    servers = {"billed": start_openai_server(reply_tokens=5),
               "counting": start_openai_server(reply_tokens=5, prompt_scale=3.0)}
    yield servers
    for server in servers.values():
        server.stop()


def provider(name: str, port: int) -> str:
    return (f'[[providers]]\nname = "{name}"\nbase_url = "http://127.0.0.1:{port}/v1"\n'
            f'api_key_env = "{KEY_VARIABLE}"\nmodels = ["gpt-4o-mini"]\n')


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, packaged_models_dir, cloud):
    root = tmp_path_factory.mktemp("trust")
    keys = root / "keys.env"
    keys.write_text(f"{KEY_VARIABLE}={cloud['billed'].api_key}\n")
    d = start_daemon(root, packaged_models_dir, (
        f'env_file = "{keys}"\n'
        + provider("billed", cloud["billed"].port) + provider("counting", cloud["counting"].port)
        + '[[prices]]\nprovider = "billed"\nmodel = "gpt-4o-mini"\ninput = 1000.0\n'
          'output = 1000.0\n'
        + f'[[prices]]\nprovider = "counting"\nmodel = "gpt-4o-mini"\ninput = {COUNTING_PRICE}\n'
          f'output = {COUNTING_PRICE}\n'
        + f'[[budgets.providers]]\nname = "billed"\ndaily = {BILLED_CAP}\n'
        + f'[[budgets.providers]]\nname = "counting"\ndaily = {COUNTING_CAP}\n'
        + '[routing]\ncache_ttl = 0\n'
        # These tests send one request over and over on purpose (shared ids, a burst against a
        # cap): the loop breaker would rightly call that a loop and answer 429 before the
        # budget is reached (tests/test_economics.py tests it).
        + '[loop_breaker]\nenabled = false\n'
        + '[server]\nmax_embedding_inputs = 64\nmax_embedding_tokens = 5000\n'
        + f'[[models]]\nname = "{CHAT}"\ncontext_length = 512\n'
        + f'[[models]]\nname = "{EMBED}"\ncontext_length = 256\n'))
    yield d
    d.stop()


def ledger_of(daemon: Daemon) -> Ledger:
    return Ledger(state_conn(daemon.config_path.parent / "state" / "state.db"))


def cloud_chat(daemon: Daemon, model: str, text: str = "Extract the date: 2025-03-02.",
               headers: dict | None = None, max_tokens: int = 8) -> httpx.Response:
    return httpx.post(f"{daemon.url}/v1/chat/completions", headers=headers or {}, timeout=60,
                      json={"model": model, "max_tokens": max_tokens,
                            "messages": [{"role": "user", "content": text}]})


# ---- 1. a client's X-Request-Id never keys the ledger ----------------------------------------

def test_calls_sharing_a_request_id_are_each_billed_and_the_cap_holds(daemon, cloud):
    cloud["billed"].reset()
    same = {"X-Request-Id": "same"}
    answers = [cloud_chat(daemon, "billed/gpt-4o-mini", headers=same) for _ in range(30)]
    with ThreadPoolExecutor(16) as pool:
        answers += list(pool.map(lambda _: cloud_chat(daemon, "billed/gpt-4o-mini",
                                                      headers=same), range(100)))
    statuses = [r.status_code for r in answers]
    assert set(statuses) <= {200, 402}, statuses
    answered = statuses.count(200)
    assert 0 < answered < 30, "the cap should admit a few calls and refuse the rest"
    assert all(r.headers["X-Request-Id"] == "same" for r in answers)
    ledger = ledger_of(daemon)
    try:
        rows = [r for r in ledger.rows("same") if r["provider"] == "billed"]
        spent = sum(r["cost_usd"] for r in rows)
    finally:
        ledger.close()
    # One row per call that reached the provider, each with its own keys.
    assert len(rows) == answered == len(cloud["billed"].requests)
    assert len({r["call_id"] for r in rows}) == len({r["request_id"] for r in rows}) == answered
    assert all(r["client_request_id"] == "same" for r in rows)
    assert 0 < spent <= BILLED_CAP + 1e-9


# ---- 2. a careless provider cannot take a budget past its cap -------------------------------

def test_a_provider_counting_3x_the_estimate_cannot_push_spend_past_the_cap(daemon, cloud):
    counting = cloud["counting"]
    counting.reset()
    counting.prompt_scale = 3.0
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda _: cloud_chat(daemon, "counting/gpt-4o-mini",
                                                     LONG_PROMPT), range(100)))
    statuses = [r.status_code for r in answers]
    assert set(statuses) <= {200, 402} and 200 in statuses and 402 in statuses, statuses
    ledger = ledger_of(daemon)
    try:
        rows = [r for r in ledger.recent(1000) if r["provider"] == "counting"]
        reserved = ledger.conn.execute("SELECT COUNT(*) FROM reservations").fetchone()[0]
    finally:
        ledger.close()
    assert len(rows) == statuses.count(200) == len(counting.requests)
    spent = sum(r["cost_usd"] for r in rows)
    # The provider really did count 3x what tierd estimates...
    estimate = max(r["prompt_tokens"] for r in rows)
    assert estimate > 2.5 * len(LONG_PROMPT) / 4
    # ...and one call's worst case is every byte a token plus the whole reply.
    worst = (len(json.dumps([{"role": "user", "content": LONG_PROMPT}])) + 64 + 8) \
        * COUNTING_PRICE / 1e6
    assert spent <= COUNTING_CAP + worst, (spent, COUNTING_CAP, worst)
    assert reserved == 0


# ---- 3. web pages cannot drive the tokenless daemon -----------------------------------------

def test_a_cross_site_text_post_and_a_form_unload_are_refused(daemon, cloud):
    cloud["billed"].reset()
    body = json.dumps({"model": "billed/gpt-4o-mini", "max_tokens": 4,
                       "messages": [{"role": "user", "content": "hi"}]})
    from_page = httpx.post(f"{daemon.url}/v1/chat/completions", content=body, headers={
        "Content-Type": "text/plain", "Origin": "https://evil.example"})
    assert from_page.status_code == 403
    assert from_page.json()["error"]["code"] == "origin_not_allowed"
    plain_text = httpx.post(f"{daemon.url}/v1/chat/completions", content=body,
                            headers={"Content-Type": "text/plain"})
    assert plain_text.status_code == 415
    assert "Content-Type: application/json" in plain_text.json()["error"]["message"]
    ollama_form = httpx.post(f"{daemon.url}/api/chat", data={"model": CHAT})
    assert ollama_form.status_code == 415 and "application/json" in ollama_form.json()["error"]
    assert cloud["billed"].requests == [], "a refused request reached the provider"

    assert httpx.post(f"{daemon.url}/models/{CHAT}/load", json={}, timeout=120).status_code == 200
    form = httpx.post(f"{daemon.url}/models/{CHAT}/unload", data={"x": "1"})
    empty_form = httpx.post(f"{daemon.url}/models/{CHAT}/unload",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    from_page = httpx.post(f"{daemon.url}/models/{CHAT}/unload",
                           headers={"Origin": "https://evil.example"})
    assert (form.status_code, empty_form.status_code, from_page.status_code) == (415, 415, 403)
    loaded = [m["name"] for h in httpx.get(f"{daemon.url}/status").json()["hosts"]
              for m in h["models"]]
    assert CHAT in loaded, "a form post unloaded a model"
    # The daemon's own pages (same origin) and JSON clients still work.
    own = httpx.post(f"{daemon.url}/models/{CHAT}/pin", json={},
                     headers={"Origin": daemon.url})
    assert own.status_code == 200
    assert httpx.post(f"{daemon.url}/models/{CHAT}/unpin", json={}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:11500", "10.1.2.3",
                                  "127.0.0.1.evil.example"])
def test_a_foreign_host_is_refused_so_a_rebinding_page_cannot_read_the_ledger(daemon, host):
    refused = httpx.get(f"{daemon.url}/costs", headers={"Host": host})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "host_not_allowed"
    assert "cost_usd" not in refused.text


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]:11500", "tierd.localhost"])
def test_loopback_hosts_are_answered(daemon, host):
    assert httpx.get(f"{daemon.url}/costs", headers={"Host": host}).status_code == 200


# ---- 4. text that is not Unicode, and lengths no model has ----------------------------------

SURROGATE = b'"a\\ud800b"'


@pytest.mark.parametrize("path, body", [
    ("/v1/chat/completions",
     b'{"model": "%s", "messages": [{"role": "user", "content": %s}]}' % (CHAT.encode(),
                                                                          SURROGATE)),
    ("/v1/embeddings", b'{"model": "%s", "input": [%s]}' % (EMBED.encode(), SURROGATE)),
    ("/api/chat",
     b'{"model": %s, "messages": [{"role": "user", "content": "hi"}]}' % SURROGATE),
    ("/api/embed", b'{"model": "%s", "input": %s}' % (EMBED.encode(), SURROGATE)),
    ("/search", b'{"q": %s}' % SURROGATE),
])
def test_a_lone_surrogate_is_a_400_and_the_connection_stays_usable(daemon, path, body):
    with httpx.Client(base_url=daemon.url, timeout=60,
                      limits=httpx.Limits(max_connections=1)) as client:
        refused = client.post(path, content=body, headers={"Content-Type": "application/json"})
        assert refused.status_code == 400, refused.text
        error = refused.json()["error"]
        message = error if isinstance(error, str) else error["message"]
        assert "lone UTF-16 surrogate" in message
        assert refused.headers.get("connection") != "close"
        stream = refused.extensions["network_stream"]
        again = client.get("/healthz")
        assert again.status_code == 200
        assert again.extensions["network_stream"] is stream, "the connection was dropped"


def test_max_tokens_past_any_or_the_models_limit_is_a_400(daemon, cloud):
    cloud["billed"].reset()
    huge = cloud_chat(daemon, "billed/gpt-4o-mini", max_tokens=10**30)
    assert huge.status_code == 400 and "max_tokens" in huge.json()["error"]["message"]
    over = cloud_chat(daemon, "billed/gpt-4o-mini", max_tokens=20_000)
    assert over.status_code == 400
    assert "at most 16384 tokens" in over.json()["error"]["message"]
    local = cloud_chat(daemon, CHAT, max_tokens=4096)
    assert local.status_code == 400 and "at most 512" in local.json()["error"]["message"]
    ollama = httpx.post(f"{daemon.url}/api/generate", timeout=60, json={
        "model": CHAT, "prompt": "hi", "stream": False, "options": {"num_predict": 10**30}})
    assert ollama.status_code == 400 and "num_predict" in ollama.json()["error"]
    assert cloud["billed"].requests == []


def test_an_embedding_request_is_capped_in_inputs_and_tokens(daemon):
    many = httpx.post(f"{daemon.url}/v1/embeddings", timeout=60,
                      json={"model": EMBED, "input": ["word"] * 65})
    assert many.status_code == 400
    assert "65 texts" in many.json()["error"]["message"]
    assert "server.max_embedding_inputs (64)" in many.json()["error"]["message"]
    long = httpx.post(f"{daemon.url}/api/embed", timeout=60,
                      json={"model": EMBED, "input": ["many words here " * 400] * 4})
    assert long.status_code == 400 and "server.max_embedding_tokens" in long.json()["error"]
    fine = httpx.post(f"{daemon.url}/v1/embeddings", timeout=60,
                      json={"model": EMBED, "input": ["word"] * 64})
    assert fine.status_code == 200 and len(fine.json()["data"]) == 64


# ---- 5. private state ------------------------------------------------------------------------

def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_state_is_private_from_creation_and_fixed_on_start(tmp_path, packaged_models_dir):
    d = start_daemon(tmp_path, packaged_models_dir, "")
    state = d.config_path.parent / "state"
    try:
        assert httpx.post(f"{d.url}/v1/embeddings", timeout=60,
                          json={"model": EMBED, "input": "x"}).status_code == 200
        files = [state / "state.db", state / "state.db-wal", state / "state.db-shm"]
        assert mode(state) == 0o700
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        d.stop()
    # Loosened by hand (a restored backup, a careless chmod): fixed on the next start.
    state.chmod(0o755)
    (state / "state.db").chmod(0o644)
    again = Daemon(d.config_path, free_port(), tmp_path / "again.log")
    try:
        assert mode(state) == 0o700 and mode(state / "state.db") == 0o600
        log = again.log_path.read_text()
        assert "was open to other users (mode 755): made it 700" in log
        assert "was open to other users (mode 644): made it 600" in log
    finally:
        again.stop()


def test_a_database_in_a_shared_folder_leaves_the_folder_alone(tmp_path):
    """A database put straight into /tmp (or any sticky, shared folder) is made private
    itself; closing the folder would lock every other user out of it."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    conn = connect(shared / "cache.db")
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert mode(shared / "cache.db") == 0o600
