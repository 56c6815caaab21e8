"""Auth, CORS, request ids and the request log of a real `tierd serve`, and no secret anywhere:
not in the daemon's log, not in error responses, not in `tierd config show`."""

from __future__ import annotations

import json
import time

import httpx
import ollama
import openai
import pytest

from tests.conftest import free_port, run_tierd, start_daemon
from tierd.api.security import Redactor, bearer_token, known_secrets, token_matches
from tierd.config import parse_text

CHAT = "packaged:gemma3-270m"
TOKEN = "tierd-token-5f1c9a7e3b"
PLANTED_KEY = "sk-planted-9d8c7b6a5f4e3d2c1b0a"
DASHBOARD = "http://dashboard.test"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, packaged_models_dir):
    root = tmp_path_factory.mktemp("security")
    with pytest.MonkeyPatch.context() as env:
        # The daemon inherits this environment, as it would a provider key from systemd.
        env.setenv("OPENAI_API_KEY", PLANTED_KEY)
        d = start_daemon(root, packaged_models_dir,
                         f'[server]\ntoken = "{TOKEN}"\nlog_json = true\n'
                         f'cors_origins = ["{DASHBOARD}"]\n'
                         f'[[models]]\nname = "{CHAT}"\ncontext_length = 512\n')
    yield d
    d.stop()


@pytest.fixture(scope="module")
def plain_daemon(tmp_path_factory, packaged_models_dir):
    """No token, no CORS: the defaults."""
    d = start_daemon(tmp_path_factory.mktemp("plain"), packaged_models_dir)
    yield d
    d.stop()


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_bearer_token_parsing_and_compare():
    scope = {"headers": [(b"authorization", b"Bearer  abc ")]}
    assert bearer_token(scope) == "abc"
    assert bearer_token({"headers": [(b"authorization", b"Basic abc")]}) is None
    assert bearer_token({"headers": [(b"authorization", b"Bearer ")]}) is None
    assert bearer_token({"headers": []}) is None
    # Anthropic's clients send their key as x-api-key; a bearer token wins when both come.
    assert bearer_token({"headers": [(b"x-api-key", b"k3y")]}) == "k3y"
    assert bearer_token({"headers": [(b"x-api-key", b"k3y"),
                                     (b"authorization", b"Bearer abc")]}) == "abc"
    assert token_matches("abc", "abc") and not token_matches("abd", "abc")
    assert not token_matches("", "abc") and not token_matches("abcd", "abc")


def test_known_secrets_and_redaction():
    config = parse_text(f'[server]\ntoken = "{TOKEN}"\n')
    found = known_secrets(config, {"OPENAI_API_KEY": PLANTED_KEY, "PATH": "/usr/bin",
                                   "SHORT_TOKEN": "abc"})
    assert found == {TOKEN, PLANTED_KEY}
    redact = Redactor(found)
    assert redact(f"key {PLANTED_KEY} and {TOKEN}!") == "key ******** and ********!"


def test_healthz_is_open_and_everything_else_needs_the_token(daemon):
    assert httpx.get(f"{daemon.url}/healthz").status_code == 200
    for path in ("/status", "/readyz", "/metrics", "/v1/models", "/api/tags", "/openapi.json"):
        missing = httpx.get(f"{daemon.url}{path}")
        assert missing.status_code == 401, path
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        wrong = httpx.get(f"{daemon.url}{path}", headers=auth("not-the-token"))
        assert wrong.status_code == 401, path
        assert httpx.get(f"{daemon.url}{path}", headers=auth()).status_code == 200, path

    # Each API answers 401 in its own error shape.
    openai_shape = httpx.get(f"{daemon.url}/v1/models").json()["error"]
    assert (
        openai_shape["type"] == "authentication_error" and "bearer token" in openai_shape["message"]
    )
    assert "bearer token" in httpx.get(f"{daemon.url}/api/tags").json()["error"]
    # A POST is refused before its body is read.
    refused = httpx.post(f"{daemon.url}/v1/chat/completions", json={"model": CHAT})
    assert refused.status_code == 401


def test_real_clients_authenticate_with_their_usual_header(daemon):
    oai = openai.OpenAI(base_url=f"{daemon.url}/v1", api_key=TOKEN, max_retries=0)
    reply = oai.chat.completions.create(model=CHAT, max_tokens=2,
                                        messages=[{"role": "user", "content": "Hi"}])
    assert reply.choices[0].message.content is not None
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{daemon.url}/v1", api_key="wrong",
                      max_retries=0).models.list()
    oll = ollama.Client(host=daemon.url, headers=auth())
    assert CHAT in {m.model for m in oll.list().models}
    with pytest.raises(ollama.ResponseError) as refused:
        ollama.Client(host=daemon.url).list()
    assert refused.value.status_code == 401


def test_request_ids_are_echoed_or_made(daemon):
    given = httpx.get(f"{daemon.url}/status", headers={**auth(), "X-Request-Id": "job-42.a"})
    assert given.headers["X-Request-Id"] == "job-42.a"
    made = httpx.get(f"{daemon.url}/status", headers={**auth(), "X-Request-Id": "a b<script>"})
    assert len(made.headers["X-Request-Id"]) == 32 and "<" not in made.headers["X-Request-Id"]
    assert httpx.get(f"{daemon.url}/healthz").headers["X-Request-Id"]


def test_cors_only_for_configured_origins(daemon, plain_daemon):
    def preflight(url: str, origin: str) -> httpx.Response:
        return httpx.options(f"{url}/v1/models", headers={
            "Origin": origin, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})

    allowed = preflight(daemon.url, DASHBOARD)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == DASHBOARD
    assert "access-control-allow-origin" not in preflight(daemon.url, "http://evil.test").headers
    answered = httpx.get(f"{daemon.url}/v1/models", headers={**auth(), "Origin": DASHBOARD})
    assert answered.headers["access-control-allow-origin"] == DASHBOARD
    # Off by default: no CORS headers at all, and a page of any other origin is refused.
    plain = httpx.get(f"{plain_daemon.url}/v1/models", headers={"Origin": DASHBOARD})
    assert plain.status_code == 403 and "access-control-allow-origin" not in plain.headers
    assert plain.json()["error"]["code"] == "origin_not_allowed"
    refused = preflight(plain_daemon.url, DASHBOARD)
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers


def test_secrets_never_appear_in_errors_logs_or_config_show(daemon):
    # Tempt every path: the key as a wrong token, as a model name (echoed in the 404), as an
    # X-Request-Id, inside a prompt.
    errors = [
        httpx.get(f"{daemon.url}/status", headers=auth(PLANTED_KEY)),
        httpx.post(f"{daemon.url}/v1/chat/completions", headers=auth(), json={
            "model": PLANTED_KEY, "messages": [{"role": "user", "content": "x"}]}),
        httpx.post(f"{daemon.url}/api/chat", headers=auth(), json={
            "model": TOKEN, "messages": [{"role": "user", "content": PLANTED_KEY}]}),
        httpx.get(f"{daemon.url}/status", headers={**auth(), "X-Request-Id": PLANTED_KEY}),
    ]
    assert [r.status_code for r in errors] == [401, 404, 404, 200]
    assert "unknown model '********'" in errors[1].json()["error"]["message"]
    for response in errors:
        assert PLANTED_KEY not in response.text and TOKEN not in response.text
        # (An X-Request-Id is echoed to the client that sent it; only the log must hide it.)
        echoed = {k: v for k, v in response.headers.items() if k != "x-request-id"}
        assert PLANTED_KEY not in str(echoed)

    log = daemon.log_path.read_text()
    assert PLANTED_KEY not in log and TOKEN not in log
    shown = run_tierd("--config", str(daemon.config_path), "config", "show",
                      env={"OPENAI_API_KEY": PLANTED_KEY})
    shown_json = run_tierd("--config", str(daemon.config_path), "config", "show", "--json")
    assert shown.returncode == 0 and shown_json.returncode == 0
    for out in (shown.stdout + shown.stderr, shown_json.stdout + shown_json.stderr):
        assert "token" in out and TOKEN not in out and PLANTED_KEY not in out


def test_one_json_log_line_per_request(daemon):
    response = httpx.post(f"{daemon.url}/v1/chat/completions",
                          headers={**auth(), "X-Request-Id": "logline-1"},
                          json={"model": CHAT, "max_tokens": 1,
                                "messages": [{"role": "user", "content": "Hi"}]}, timeout=60)
    assert response.status_code == 200
    # The line is written once the response is out, so it may trail the client a little.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and '"logline-1"' not in daemon.log_path.read_text():
        time.sleep(0.05)
    lines = [json.loads(line) for line in daemon.log_path.read_text().splitlines()
             if line.startswith("{")]
    mine = [line for line in lines if line.get("client_request_id") == "logline-1"]
    assert len(mine) == 1
    entry = mine[0]
    assert len(entry["request_id"]) == 32 and entry["request_id"] != "logline-1"
    assert response.headers["X-Request-Id"] == "logline-1"
    assert entry["logger"] == "tierd.request" and entry["method"] == "POST"
    assert entry["route"] == "/v1/chat/completions" and entry["status"] == 200
    assert entry["model"] == CHAT and entry["latency_ms"] > 0
    # Every line of the log is JSON, uvicorn's own included.
    text_lines = [line for line in daemon.log_path.read_text().splitlines() if line.strip()]
    assert all(line.startswith("{") for line in text_lines), text_lines[:3]
    refused = [line for line in lines if line.get("status") == 401]
    assert refused and all(line["route"] for line in refused)


def test_refuses_a_non_loopback_address_without_a_token(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\n')
    refused = run_tierd("--config", str(config), "serve", "--listen", f"0.0.0.0:{free_port()}")
    assert refused.returncode == 1
    assert "not loopback" in refused.stderr and "server.token" in refused.stderr
