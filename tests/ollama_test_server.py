"""A small Ollama API server on 127.0.0.1 that the Ollama runtime's tests talk to over real HTTP.

It stands in for Ollama until tierd's own Ollama-compatible API exists (then the tests will run
tierd against a tierd). It follows Ollama's wire format and the behaviour tierd depends on:

- names without a tag mean `:latest`; an unknown model is a 404 `{"error": ...}`;
- an empty prompt / message list / input list loads the model; `keep_alive` -1 keeps it
  forever, 0 unloads it (after `unload_delay`, as a real runner takes a moment to stop),
  absent means five minutes;
- a request whose `num_ctx` differs from the loaded runner's reloads it (recorded in `reloads`,
  so a test can assert tierd never causes one); a request without `num_ctx` asks for 4096;
- `/api/ps` reports `size_vram` = file size + f16 KV cache for the loaded context;
- it answers `num_parallel` requests per model at once (OLLAMA_NUM_PARALLEL; the rest wait, as
  in Ollama) and, like Ollama, loads the runner with `num_ctx × num_parallel` tokens of
  context: /api/ps reports that context and its KV cache;
- streams are NDJSON; the final chunk carries `done_reason` and the nanosecond timings;
- `/api/pull` streams progress per layer and, for a name the library lacks, answers 200 and
  then an `{"error": ...}` line, as Ollama does.

Switches for tests: `queue_full` (503 on generate/chat/embed, like Ollama's full queue),
`fail_status` (any other status there), `cpu_only` (size_vram 0),
`load_external(model, num_ctx)` (another client loaded a model), `reply_text` (the words of
every reply instead of the fox), `tool_calls` (a chat reply's calls, sent in a line of their
own before the last, as Ollama sends them), `token_delay` (slow streams,
for cancelling; an embed call then takes as long as a chat reply), `embed_cost` (seconds an
embed call takes: a fixed part per request plus a part per text), `tierd_status` (a body for
`GET /status`, as a tierd on that host answers). `in_flight`, `peak_in_flight` and `peak_total`
say how many requests it answered at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

DEFAULT_NUM_CTX = 4096
DEFAULT_KEEP_ALIVE_S = 300.0
FOREVER = datetime(2318, 1, 1, tzinfo=timezone.utc)
"""Ollama reports a never-expiring runner with an expires_at centuries away."""


@dataclass(frozen=True)
class FakeModel:
    name: str
    arch: str
    family: str
    capabilities: tuple[str, ...]
    size: int
    block_count: int
    head_count: int
    head_count_kv: int
    embedding_length: int
    context_length: int
    quantization: str = "Q4_K_M"
    parameter_size: str = "1B"

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.name.encode()).hexdigest()

    def model_info(self) -> dict[str, Any]:
        a = self.arch
        return {
            "general.architecture": a,
            "general.parameter_count": 1_000_000_000,
            f"{a}.block_count": self.block_count,
            f"{a}.attention.head_count": self.head_count,
            f"{a}.attention.head_count_kv": self.head_count_kv,
            f"{a}.embedding_length": self.embedding_length,
            f"{a}.context_length": self.context_length,
        }

    def details(self) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization,
        }

    def vram_bytes(self, num_ctx: int) -> int:
        head_dim = self.embedding_length // self.head_count
        return self.size + 2 * self.block_count * self.head_count_kv * head_dim * num_ctx * 2


CHAT_MODEL = FakeModel(
    "tinyllama:latest", arch="llama", family="llama", capabilities=("completion",),
    size=637_000_000, block_count=22, head_count=32, head_count_kv=4,
    embedding_length=2048, context_length=2048,
)
EMBED_MODEL = FakeModel(
    "nomic-embed-text:latest", arch="nomic-bert", family="nomic-bert",
    capabilities=("embedding",), size=274_000_000, block_count=12, head_count=12,
    head_count_kv=12, embedding_length=768, context_length=2048, quantization="F16",
    parameter_size="137M",
)
PULLABLE = FakeModel(
    "smollm:135m", arch="llama", family="llama", capabilities=("completion",),
    size=91_000_000, block_count=30, head_count=9, head_count_kv=3,
    embedding_length=576, context_length=2048, parameter_size="135M",
)

REPLY_WORDS = "the quick brown fox jumps over the lazy dog and runs far away".split()
EMBED_DIMS = 8


def canonical(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


@dataclass
class Runner:
    model: FakeModel
    num_ctx: int
    expires_at: datetime
    unload_timer: threading.Timer | None = None


@dataclass
class ServerState:
    installed: dict[str, FakeModel]
    library: dict[str, FakeModel]
    running: dict[str, Runner] = field(default_factory=dict)
    requests: list[tuple[str, dict]] = field(default_factory=list)
    """Every POST as (path, body), in arrival order."""
    loads: list[tuple[str, int]] = field(default_factory=list)
    """(model, num_ctx) for every runner start, reloads included."""
    reloads: list[tuple[str, int, int]] = field(default_factory=list)
    """(model, old num_ctx, new num_ctx) whenever a request forced a reload."""
    show_calls: int = 0
    cancelled_streams: int = 0
    queue_full: bool = False
    fail_status: int | None = None
    """Answer generate/chat/embed with this HTTP status (e.g. 500, a crashed runner)."""
    token_delay: float = 0.0
    embed_cost: tuple[float, float] = (0.0, 0.0)
    """(per request, per text): what one /api/embed call costs, so batching shows as it is."""
    reply_text: str | None = None
    tool_calls: list[dict] | None = None
    cpu_only: bool = False
    """Report size_vram 0, as Ollama does for a model running on the CPU."""
    unload_delay: float = 0.05
    num_parallel: int = 1
    """OLLAMA_NUM_PARALLEL: requests answered at once per model."""
    tierd_status: dict | None = None
    in_flight: dict[str, int] = field(default_factory=dict)
    """Generate, chat and embed requests being answered now, per model."""
    peak_in_flight: dict[str, int] = field(default_factory=dict)
    """The most that were ever answered at once, per model."""
    peak_total: int = 0
    """The most answered at once across all models."""


class OllamaTestServer:
    """Run with `with OllamaTestServer() as server:`; `server.url` is its base URL."""

    def __init__(self) -> None:
        self.state = ServerState(
            installed={m.name: m for m in (CHAT_MODEL, EMBED_MODEL)},
            library={PULLABLE.name: PULLABLE},
        )
        self.lock = threading.RLock()
        self._slots: dict[str, threading.Semaphore] = {}
        self._httpd = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "OllamaTestServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        with self.lock:
            for runner in self.state.running.values():
                if runner.unload_timer:
                    runner.unload_timer.cancel()

    # -- switches and views for tests ---------------------------------------------------------

    def load_external(self, model: str, num_ctx: int = DEFAULT_NUM_CTX) -> None:
        """Load `model` as another Ollama client would, with the default five-minute keep_alive."""
        self.schedule(self.state.installed[canonical(model)], num_ctx, None)

    def slots_for(self, model: str) -> threading.Semaphore:
        """The model's parallel slots (made at its first request, `num_parallel` of them)."""
        with self.lock:
            if model not in self._slots:
                self._slots[model] = threading.Semaphore(self.state.num_parallel)
            return self._slots[model]

    def requests_to(self, path: str) -> list[dict]:
        with self.lock:
            return [body for p, body in self.state.requests if p == path]

    # -- the scheduler: loads, reloads, keep_alive --------------------------------------------

    def schedule(self, model: FakeModel, num_ctx: int, keep_alive: Any) -> Runner:
        with self.lock:
            runner = self.state.running.get(model.name)
            if runner and runner.unload_timer:
                runner.unload_timer.cancel()
                runner.unload_timer = None
            if runner and runner.num_ctx != num_ctx:
                self.state.reloads.append((model.name, runner.num_ctx, num_ctx))
                runner = None
            if runner is None:
                runner = Runner(model, num_ctx, FOREVER)
                self.state.running[model.name] = runner
                self.state.loads.append((model.name, num_ctx))
            seconds = _keep_alive_seconds(keep_alive)
            if seconds == 0:
                self._unload_later(runner)
            elif seconds < 0:
                runner.expires_at = FOREVER
            else:
                runner.expires_at = datetime.now(timezone.utc) + timedelta(seconds=seconds)
            return runner

    def _unload_later(self, runner: Runner) -> None:
        def unload() -> None:
            with self.lock:
                if self.state.running.get(runner.model.name) is runner:
                    del self.state.running[runner.model.name]

        runner.unload_timer = threading.Timer(self.state.unload_delay, unload)
        runner.unload_timer.daemon = True
        runner.unload_timer.start()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (a cancelled stream, a closed pool) are normal here, not errors."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


def _keep_alive_seconds(value: Any) -> float:
    if value is None:
        return DEFAULT_KEEP_ALIVE_S
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    units = {"s": 1, "m": 60, "h": 3600}
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def _timestamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(timezone.utc)).isoformat()


class _HttpError(Exception):
    def __init__(self, status: int, message: str):
        self.status = status
        self.message = message


def _make_handler(server: OllamaTestServer) -> type[BaseHTTPRequestHandler]:
    state = server.state

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

        # -- plumbing -------------------------------------------------------------------------

        def do_GET(self) -> None:
            routes = {"/api/tags": self.tags, "/api/ps": self.ps, "/api/version": self.version,
                      "/status": self.status}
            self.dispatch(routes, None)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            body = json.loads(raw or b"{}")
            with server.lock:
                state.requests.append((self.path, body))
            routes = {"/api/show": self.show, "/api/generate": self.generate,
                      "/api/chat": self.chat, "/api/embed": self.embed, "/api/pull": self.pull}
            self.dispatch(routes, body)

        def dispatch(self, routes: dict, body: dict | None) -> None:
            route = routes.get(self.path.split("?", 1)[0])
            try:
                if route is None:
                    raise _HttpError(404, "404 page not found")
                route() if body is None else route(body)
            except _HttpError as err:
                self.send_json({"error": err.message}, err.status)

        def send_json(self, payload: dict, status: int = 200) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def send_stream(self, lines: Iterator[dict]) -> None:
            """NDJSON in HTTP chunks; a client that hangs up ends the stream (and is counted)."""
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for line in lines:
                    data = json.dumps(line).encode() + b"\n"
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                with server.lock:
                    state.cancelled_streams += 1
                self.close_connection = True

        def model_for(self, name: str | None) -> FakeModel:
            model = state.installed.get(canonical(name or ""))
            if model is None:
                raise _HttpError(404, f'model "{name}" not found, try pulling it first')
            return model

        def check_switches(self) -> None:
            if state.queue_full:
                raise _HttpError(
                    503, "server busy, please try again.  maximum pending requests exceeded"
                )
            if state.fail_status:
                raise _HttpError(state.fail_status,
                                 "llama runner process has terminated: exit status 2")

        def unloads_only(self, body: dict, empty: bool) -> bool:
            """Ollama handles "empty request, keep_alive 0" before scheduling: no (re)load first."""
            keep_alive = body.get("keep_alive")
            if not empty or keep_alive is None or _keep_alive_seconds(keep_alive) != 0:
                return False
            model = self.model_for(body.get("model"))
            with server.lock:
                runner = state.running.get(model.name)
                if runner is not None and runner.unload_timer is None:
                    server._unload_later(runner)
            return True

        def admit(self, body: dict) -> tuple[FakeModel, Runner]:
            self.check_switches()
            model = self.model_for(body.get("model"))
            num_ctx = int((body.get("options") or {}).get("num_ctx") or DEFAULT_NUM_CTX)
            return model, server.schedule(model, num_ctx, body.get("keep_alive"))

        # -- routes ---------------------------------------------------------------------------

        def version(self) -> None:
            self.send_json({"version": "0.0.0-tierd-test"})

        def status(self) -> None:
            if state.tierd_status is None:
                raise _HttpError(404, "404 page not found")
            self.send_json(state.tierd_status)

        def tags(self) -> None:
            with server.lock:
                models = list(state.installed.values())
            self.send_json({"models": [
                {"name": m.name, "model": m.name, "modified_at": _timestamp(), "size": m.size,
                 "digest": m.digest, "details": m.details()}
                for m in models
            ]})

        def ps(self) -> None:
            with server.lock:
                runners = list(state.running.values())
            slots = state.num_parallel
            self.send_json({"models": [
                {"name": r.model.name, "model": r.model.name,
                 "size": r.model.vram_bytes(r.num_ctx * slots),
                 "digest": r.model.digest, "details": r.model.details(),
                 "expires_at": _timestamp(r.expires_at),
                 "size_vram": 0 if state.cpu_only else r.model.vram_bytes(r.num_ctx * slots),
                 "context_length": r.num_ctx * slots}
                for r in runners
            ]})

        def show(self, body: dict) -> None:
            model = self.model_for(body.get("model") or body.get("name"))
            with server.lock:
                state.show_calls += 1
            self.send_json({
                "modelfile": f"FROM {model.name}\n", "parameters": "", "template": "{{ .Prompt }}",
                "details": model.details(), "model_info": model.model_info(),
                "capabilities": list(model.capabilities), "modified_at": _timestamp(),
            })

        def generate(self, body: dict) -> None:
            if self.unloads_only(body, empty=not body.get("prompt")):
                self.send_json({"model": canonical(body["model"]), "created_at": _timestamp(),
                                "response": "", "done": True, "done_reason": "unload"})
                return
            model, runner = self.admit(body)
            if not body.get("prompt"):
                self.send_json({"model": model.name, "created_at": _timestamp(), "response": "",
                                "done": True, "done_reason": "load"})
                return
            self.reply(body, runner, prompt_tokens=len(body["prompt"].split()), chat=False)

        def chat(self, body: dict) -> None:
            if self.unloads_only(body, empty=not body.get("messages")):
                self.send_json({"model": canonical(body["model"]), "created_at": _timestamp(),
                                "message": {"role": "assistant", "content": ""},
                                "done": True, "done_reason": "unload"})
                return
            model, runner = self.admit(body)
            messages = body.get("messages") or []
            if not messages:
                self.send_json({"model": model.name, "created_at": _timestamp(),
                                "message": {"role": "assistant", "content": ""},
                                "done": True, "done_reason": "load"})
                return
            tokens = sum(len(str(m.get("content", "")).split()) + 4 for m in messages)
            self.reply(body, runner, prompt_tokens=tokens, chat=True)

        def answering(self, model: str) -> "contextlib.AbstractContextManager[None]":
            """Count this request as answered now (for in_flight and the peaks)."""
            @contextlib.contextmanager
            def counted() -> Iterator[None]:
                slots = server.slots_for(model)
                slots.acquire()
                with server.lock:
                    state.in_flight[model] = state.in_flight.get(model, 0) + 1
                    state.peak_in_flight[model] = max(state.peak_in_flight.get(model, 0),
                                                      state.in_flight[model])
                    state.peak_total = max(state.peak_total, sum(state.in_flight.values()))
                try:
                    yield
                finally:
                    with server.lock:
                        state.in_flight[model] -= 1
                    slots.release()

            return counted()

        def reply(self, body: dict, runner: Runner, prompt_tokens: int, chat: bool) -> None:
            """Deterministic words, one per chunk; `num_predict` cuts it short with "length"."""
            with self.answering(runner.model.name):
                self.reply_now(body, runner, prompt_tokens, chat)

        def reply_now(self, body: dict, runner: Runner, prompt_tokens: int, chat: bool) -> None:
            limit = (body.get("options") or {}).get("num_predict")
            every = state.reply_text.split(" ") if state.reply_text is not None else REPLY_WORDS
            words = every if limit is None or limit < 0 else every[:limit]
            reason = "length" if len(words) < len(every) else "stop"
            name = runner.model.name

            def piece(text: str, done: bool) -> dict:
                line: dict[str, Any] = {"model": name, "created_at": _timestamp(), "done": done}
                if chat:
                    line["message"] = {"role": "assistant", "content": text}
                else:
                    line["response"] = text
                return line

            def lines() -> Iterator[dict]:
                for i, word in enumerate(words):
                    if state.token_delay:
                        time.sleep(state.token_delay)
                    yield piece(word if i == 0 else " " + word, False)
                if chat and state.tool_calls:
                    calls = piece("", False)
                    calls["message"]["tool_calls"] = state.tool_calls
                    yield calls
                final = piece("", True)
                final.update(done_reason=reason, total_duration=9_000_000,
                             load_duration=1_000_000, prompt_eval_count=prompt_tokens,
                             prompt_eval_duration=2_000_000, eval_count=len(words),
                             eval_duration=5_000_000)
                yield final

            if body.get("stream", True):
                self.send_stream(lines())
            else:
                *parts, final = list(lines())
                text = "".join((p["message"]["content"] if chat else p["response"]) for p in parts)
                final.update(piece(text, True))
                if chat and state.tool_calls:
                    final["message"]["tool_calls"] = state.tool_calls
                self.send_json(final)

        def embed(self, body: dict) -> None:
            model, _ = self.admit(body)
            if "embedding" not in model.capabilities:
                raise _HttpError(400, f'"{model.name}" does not support embeddings')
            inputs = body.get("input") or []
            texts = [inputs] if isinstance(inputs, str) else list(inputs)
            with self.answering(model.name):
                if state.token_delay and texts:
                    time.sleep(state.token_delay * len(REPLY_WORDS))  # as long as a chat reply
                per_call, per_text = state.embed_cost
                if texts and (per_call or per_text):
                    time.sleep(per_call + per_text * len(texts))
            self.send_json({
                "model": model.name,
                "embeddings": [_fake_vector(t) for t in texts],
                "total_duration": 3_000_000 * max(1, len(texts)),
                "load_duration": 1_000_000,
                "prompt_eval_count": sum(len(t.split()) + 2 for t in texts),
            })

        def pull(self, body: dict) -> None:
            name = canonical(body.get("model") or body.get("name") or "")
            model = state.library.get(name) or state.installed.get(name)

            def lines() -> Iterator[dict]:
                yield {"status": "pulling manifest"}
                if model is None:
                    yield {"error": "pull model manifest: file does not exist"}
                    return
                layer = f"sha256:{model.digest}"
                for completed in (0, model.size // 3, 2 * model.size // 3, model.size):
                    yield {"status": f"pulling {model.digest[:12]}", "digest": layer,
                           "total": model.size, "completed": completed}
                yield {"status": "verifying sha256 digest"}
                yield {"status": "writing manifest"}
                with server.lock:
                    state.installed[model.name] = model
                yield {"status": "success"}

            if body.get("stream", True):
                self.send_stream(lines())
            else:
                final = list(lines())[-1]
                if "error" in final:
                    raise _HttpError(500, final["error"])
                self.send_json(final)

    return Handler


def _fake_vector(text: str) -> list[float]:
    """A stable vector per text, so a test can tell which input produced which embedding."""
    digest = hashlib.sha256(text.encode()).digest()
    return [(b - 127.5) / 127.5 for b in digest[:EMBED_DIMS]]
