"""The Ollama runtime: one Ollama server (one configured host URL) behind tierd's `Runtime`.

It talks through the official `ollama` client and keeps Ollama's own scheduler out of tierd's
way: every load and every request says `keep_alive=-1` (tierd's model manager, not Ollama's
timers, decides eviction) and carries the `num_ctx` the model was loaded with, because a request
whose `num_ctx` differs makes Ollama silently reload the model.

Ollama places a model's layers itself (`offload = "self"`); /api/ps says how much of it went
to the GPU (`size_vram` of `size`), and that is what tierd counts against each budget. It
serves OLLAMA_NUM_PARALLEL requests per model at once and loads the runner with
`num_ctx × parallel` tokens of context; where /api/ps shows that multiple, it is the model's
`slots`, and tierd never sends more at once. For an Ollama on this machine,
`local_num_parallel` reads the setting from the server process's environment.

Errors never escape as `ollama.ResponseError` or httpx errors: connection refused and timeouts
become `RuntimeUnavailable` (naming the host and URL), Ollama's 503 (its queue is full) becomes
`QueueFull`, a 404 for a model becomes `UnknownModel`, other 5xx become `RuntimeUnavailable`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

import httpx
import ollama
import psutil

from tierd.chat import ollama as ollama_shape
from tierd.chat.request import ChatRequest
from tierd.errors import QueueFull, RuntimeUnavailable, TierdError, UnknownModel
from tierd.net import url_is_loopback
from tierd.runtimes.base import (
    FEATURES,
    Capability,
    Chunk,
    EmbedBatch,
    Embeddings,
    Feature,
    GenerateOptions,
    LoadedModel,
    ModelInfo,
    ParallelSetting,
    Timings,
)

DEFAULT_NUM_CTX = 4096
"""Ollama's own default under 24 GiB of VRAM; used when nothing else says what a model takes."""

DEFAULT_NUM_PARALLEL = 1
"""OLLAMA_NUM_PARALLEL when it is not set (Ollama's default since it stopped choosing 4 or 1
by free memory)."""

DEFAULT_PORT = 11434

CONNECT_TIMEOUT_S = 5.0
"""A host that does not accept a connection in this time is down; loads may take far longer."""

LISTING_TIMEOUT_S = 10.0
"""The most a model listing (/api/tags, /api/show) may take. It reads files, never loads a
model, so an Ollama that takes longer is stuck, and routing, which lists a host's models to
choose among them, must not wait the full load timeout on it."""

LISTING_RETRY_S = 10.0
"""After a listing fails, for this long the host is taken as down without being asked, so a
box that is off or asleep costs one request a connect timeout, not every request."""

EMBED_BATCH = EmbedBatch(max_texts=256, max_bytes=256 * 1024)
"""What one /api/embed call carries at most. Ollama takes any number of inputs and spreads them
over its parallel slots, so a call saves a round trip per text (200 inputs in one call are
about 20x faster than 200 calls); the byte bound (about 64k tokens of code) keeps a call to
seconds on a GPU and inside the HTTP timeout on a CPU, and a failing batch, retried text by
text, costs at most that."""

UNLOAD_WAIT_S = 10.0
"""How long unload() waits for /api/ps to drop a model (Ollama stops its runner asynchronously)."""

EMBEDDING_FAMILIES = frozenset(
    {"bert", "nomic-bert", "jina-bert-v2", "xlm-roberta", "nomic-bert-moe"}
)
"""Architectures that only embed, for Ollama versions whose /api/show has no `capabilities`."""

TOKENS_PER_MESSAGE = 8
"""Chat-template markers around each message (`<|im_start|>user\\n … <|im_end|>\\n` and kin)."""

TOKENS_FOR_REPLY_PRIMER = 4
"""The template's opening of the assistant turn that follows the messages."""

TOKENS_PER_IMAGE = 1600
"""An image as a vision model reads it, on the high side: Anthropic counts about 1,600 tokens
for a 1.15-megapixel image, OpenAI at most 1,105 for a high-detail one, and Gemma 3 and LLaVA
256 to 576."""


class PullNotFound(TierdError):
    """`tierd pull NAME` for a name the Ollama library does not have."""

    http_status = 404

    def __init__(self, model: str, host: str, url: str, detail: str):
        self.model = model
        super().__init__(
            f"ollama on host {host!r} ({url}) cannot pull {model!r}: the library has no such "
            f"model or tag ({detail}); check the spelling, e.g. 'qwen2.5:14b'"
        )


class OllamaRejected(TierdError):
    """Ollama refused a request as malformed (a 4xx other than 404), e.g. embed on a chat model."""


@dataclass(frozen=True)
class PullProgress:
    """One status line of a pull; `digest`, `total` and `completed` are set while a layer
    downloads."""

    status: str
    digest: str | None = None
    total: int | None = None
    completed: int | None = None


def canonical_name(name: str) -> str:
    """Ollama's name for `name`: a missing tag means `:latest` (as /api/tags and /api/ps say)."""
    last_part = name.rsplit("/", 1)[-1]
    return name if ":" in last_part else f"{name}:latest"


class OllamaRuntime:
    """One Ollama server. Thread-safe: the model manager serialises loads and unloads per host,
    and generation runs in worker threads over the shared httpx connection pool.

    `context_lengths` maps model names to the num_ctx configured for them (used until tierd
    loads the model itself). `timeout` bounds every wait for a byte from Ollama, so it must
    cover the slowest model load and the slowest prompt evaluation; connecting gets
    CONNECT_TIMEOUT_S at most, so a host that is down is reported quickly.
    """

    offload = "self"

    def __init__(
        self,
        host: str,
        url: str,
        context_lengths: Mapping[str, int] | None = None,
        timeout: float = 300.0,
    ):
        self.host = host
        self.url = url.rstrip("/")
        self._configured_ctx = {canonical_name(k): v for k, v in (context_lengths or {}).items()}
        self._client = ollama.Client(
            host=self.url, timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_S))
        )
        self._lister = ollama.Client(host=self.url, timeout=httpx.Timeout(
            min(timeout, LISTING_TIMEOUT_S), connect=min(timeout, CONNECT_TIMEOUT_S)))
        self._listing_failed: tuple[float, str] | None = None
        """When the last listing failed and why, while LISTING_RETRY_S has not passed."""
        self._lock = threading.Lock()
        self._ours: dict[str, int] = {}
        """Models this process loaded, with the num_ctx it loaded them with."""
        self._runner_ctx: dict[str, int] = {}
        """The context /api/ps reported right after our load (num_ctx × parallel, or num_ctx
        in the versions that report it per request)."""
        self._show_by_digest: dict[str, ollama.ShowResponse] = {}
        self._known: dict[str, ModelInfo] = {}

    def close(self) -> None:
        self._client.close()
        self._lister.close()

    # -- what is there ------------------------------------------------------------------------

    def available(self) -> list[ModelInfo]:
        """Installed models with the architecture facts the memory estimate needs.

        /api/show is asked once per model digest: a model's facts change only when its digest does.
        A listing that fails is remembered for LISTING_RETRY_S (RuntimeUnavailable again).
        """
        failed = self._listing_failed
        if failed is not None and time.monotonic() - failed[0] < LISTING_RETRY_S:
            raise RuntimeUnavailable(failed[1])
        try:
            with self._translated():
                listing = self._lister.list()
                infos = []
                for entry in listing.models:
                    name = canonical_name(entry.model or "")
                    digest = entry.digest or name
                    show = self._show_by_digest.get(digest)
                    if show is None:
                        show = self._show_by_digest[digest] = self._lister.show(name)
                    infos.append(_model_info(name, entry, show))
        except RuntimeUnavailable as err:
            self._listing_failed = (time.monotonic(), str(err))
            raise
        self._listing_failed = None
        with self._lock:
            self._known = {info.name: info for info in infos}
        return infos

    def loaded(self) -> list[LoadedModel]:
        """Models in /api/ps. One that this process did not load (or that someone else reloaded
        with another context) is `external`: it takes memory tierd does not own."""
        with self._translated():
            running = self._client.ps().models
        current = {canonical_name(m.model or m.name or ""): m for m in running}
        with self._lock:
            for name in list(self._ours):
                entry = current.get(name)
                stale = entry is not None and entry.context_length \
                    and entry.context_length != self._runner_ctx.get(name, self._ours[name])
                if entry is None or stale:
                    del self._ours[name]
                    self._runner_ctx.pop(name, None)
            return [self._loaded_model(name, m) for name, m in current.items()]

    def _loaded_model(self, name: str, entry: Any) -> LoadedModel:
        """/api/ps's entry as tierd counts it (under the lock)."""
        ours = self._ours.get(name)
        return LoadedModel(
            name=name,
            context_length=ours or entry.context_length or DEFAULT_NUM_CTX,
            bytes=_footprint(entry),
            gpu_bytes=min(int(entry.size_vram or 0), _footprint(entry)),
            external=ours is None,
            slots=_slots(ours, entry.context_length),
        )

    # -- loading and unloading ----------------------------------------------------------------

    def load(self, model: str, context_length: int, gpu_layers: int = 0) -> LoadedModel:
        """Load with an empty request (Ollama's way to load), keep_alive=-1 so it never expires,
        then read /api/ps for what the model really takes at this context. `gpu_layers` is not
        sent: Ollama places layers itself, and a request whose num_gpu differed from the
        runner's would make it reload."""
        name = canonical_name(model)
        capability = self._describe(name).capability
        options = {"num_ctx": context_length}
        with self._translated(name):
            if capability == "embed":
                self._client.embed(name, input=[], options=options, keep_alive=-1)
            else:
                self._client.generate(name, prompt="", options=options, keep_alive=-1)
        with self._lock:
            self._ours[name] = context_length
            self._runner_ctx.pop(name, None)
        entry = self._running(name)
        if entry is None:
            raise RuntimeUnavailable(
                f"ollama on host {self.host!r} ({self.url}) accepted the load of {name} but "
                f"/api/ps does not list it (another client may have unloaded it at once)"
            )
        with self._lock:
            if entry.context_length:
                self._runner_ctx[name] = entry.context_length
            return self._loaded_model(name, entry)

    def unload(self, model: str) -> None:
        """keep_alive=0, then wait (up to UNLOAD_WAIT_S) until /api/ps no longer lists the model,
        so the model manager only counts memory as free once it is."""
        name = canonical_name(model)
        entry = self._running(name)
        if entry is not None:
            # An empty embed request loads the model before keep_alive=0 lets it go, so it must
            # carry the running num_ctx or it would first reload at another context.
            options = {"num_ctx": entry.context_length or self._num_ctx(name)}
            with self._translated(name):
                if self._describe(name).capability == "embed":
                    self._client.embed(name, input=[], options=options, keep_alive=0)
                else:
                    self._client.generate(name, prompt="", options=options, keep_alive=0)
            deadline = time.monotonic() + UNLOAD_WAIT_S
            while self._running(name) is not None:
                if time.monotonic() > deadline:
                    raise RuntimeUnavailable(
                        f"ollama on host {self.host!r} ({self.url}) still lists {name} "
                        f"{UNLOAD_WAIT_S:.0f}s after it was told to unload it"
                    )
                time.sleep(0.05)
        with self._lock:
            self._ours.pop(name, None)
            self._runner_ctx.pop(name, None)

    # -- inference ----------------------------------------------------------------------------

    def chat(
        self,
        model: str,
        request: ChatRequest,
        cancel: threading.Event | None = None,
    ) -> Iterator[Chunk]:
        """Tools, images, tool calls and `format` go to Ollama as Ollama takes them
        (tierd.chat.ollama), and its reply lines come back through the same translation."""
        name = canonical_name(model)
        call = dict(
            model=name,
            **ollama_shape.request_to_ollama(request),
            options=_ollama_options(self._num_ctx(name), request.options),
            keep_alive=-1,
            stream=True,
        )
        reader = ollama_shape.StreamReader(forced=bool(request.forced_tools()))
        return self._stream(name, lambda: self._client.chat(**call),
                            lambda part: reader.feed(part.model_dump(exclude_none=True)), cancel)

    def generate(
        self,
        model: str,
        prompt: str,
        options: GenerateOptions,
        cancel: threading.Event | None = None,
    ) -> Iterator[Chunk]:
        name = canonical_name(model)
        request = dict(
            model=name,
            prompt=prompt,
            raw=True,
            options=_ollama_options(self._num_ctx(name), options),
            keep_alive=-1,
            stream=True,
        )
        return self._stream(name, lambda: self._client.generate(**request),
                            lambda part: Chunk(part.response or "", done=bool(part.done),
                                               finish_reason=_finish(part),
                                               timings=_timings(part) if part.done else None),
                            cancel)

    def embed(self, model: str, texts: list[str]) -> Embeddings:
        """The whole batch in one /api/embed call: ~20× faster than one call per text."""
        if not texts:
            return Embeddings(vectors=[], prompt_tokens=0)
        name = canonical_name(model)
        with self._translated(name):
            reply = self._client.embed(
                name, input=list(texts), options={"num_ctx": self._num_ctx(name)}, keep_alive=-1
            )
        return Embeddings(
            vectors=[list(v) for v in reply.embeddings],
            prompt_tokens=reply.prompt_eval_count or 0,
            total_duration=reply.total_duration or 0,
            load_duration=reply.load_duration or 0,
        )

    def embed_batch(self, model: str) -> EmbedBatch:
        return EMBED_BATCH

    def count_tokens(self, model: str, request: ChatRequest) -> int:
        """An estimate: Ollama has no tokenize endpoint. See `estimate_chat_tokens`."""
        return estimate_chat_tokens(request)

    # -- pulling ------------------------------------------------------------------------------

    def pull(self, model: str, on_progress: Callable[[PullProgress], None] | None = None) -> None:
        """Download `model` into this Ollama, reporting each status line to `on_progress`.

        Ollama keeps partially downloaded layers and resumes them, so an interrupted pull is
        simply run again.
        """
        name = canonical_name(model)
        with self._translated(name):
            try:
                for part in self._client.pull(name, stream=True):
                    if on_progress is not None:
                        on_progress(PullProgress(part.status or "", part.digest, part.total,
                                                 part.completed))
            except ollama.ResponseError as err:
                # Ollama answers 200 and then reports the missing manifest inside the stream.
                if err.status_code == 404 or _means_missing_manifest(err.error):
                    raise PullNotFound(name, self.host, self.url, err.error) from None
                raise
        with self._lock:
            self._known.pop(name, None)

    # -- internals ----------------------------------------------------------------------------

    def _stream(
        self,
        name: str,
        start: Callable[[], Iterator[Any]],
        read: Callable[[Any], Chunk],
        cancel: threading.Event | None,
    ) -> Iterator[Chunk]:
        """Turn Ollama's stream into Chunks. Cancelling closes the HTTP response, which is how
        Ollama learns to stop generating; it is noticed when the next piece arrives."""
        with self._translated(name):
            parts = start()
            try:
                for part in parts:
                    if cancel is not None and cancel.is_set():
                        parts.close()
                        yield Chunk("", done=True, finish_reason="cancelled")
                        return
                    chunk = read(part)
                    if chunk.done:
                        yield chunk
                        return
                    if chunk.text or chunk.tool_calls:
                        yield chunk
            finally:
                parts.close()
        raise RuntimeUnavailable(
            f"ollama on host {self.host!r} ({self.url}) ended the stream for {name} without a "
            f"final chunk"
        )

    def _describe(self, name: str) -> ModelInfo:
        with self._lock:
            info = self._known.get(name)
        if info is None:
            known = {i.name: i for i in self.available()}
            if name not in known:
                raise UnknownModel(name, list(known))
            info = known[name]
        return info

    def _running(self, name: str) -> Any | None:
        with self._translated():
            running = self._client.ps().models
        return next((m for m in running if canonical_name(m.model or m.name or "") == name), None)

    def _num_ctx(self, name: str) -> int:
        """The context every request for `name` must carry: the one it was loaded with, else the
        configured one, else the one another client loaded it with, else Ollama's default."""
        with self._lock:
            if name in self._ours:
                return self._ours[name]
        if name in self._configured_ctx:
            return self._configured_ctx[name]
        entry = self._running(name)
        return (entry.context_length if entry else None) or DEFAULT_NUM_CTX

    @contextlib.contextmanager
    def _translated(self, model: str | None = None) -> Iterator[None]:
        """Turn the ollama client's and httpx's errors into tierd's."""
        where = f"ollama on host {self.host!r} ({self.url})"
        try:
            yield
        except ollama.ResponseError as err:
            raise self._response_error(err, where, model) from None
        except httpx.TimeoutException as err:
            raise RuntimeUnavailable(
                f"{where} did not answer in time ({type(err).__name__})"
            ) from None
        except (ConnectionError, httpx.TransportError) as err:
            # ollama.Client raises the builtin ConnectionError for a refused plain request, but
            # lets httpx.ConnectError through for a refused stream.
            raise RuntimeUnavailable(
                f"{where} cannot be reached ({type(err).__name__}): is Ollama running there?"
            ) from None

    def _response_error(self, err: ollama.ResponseError, where: str,
                        model: str | None) -> Exception:
        status, detail = err.status_code, err.error
        if status == 503:
            return QueueFull(f"{where} is busy: its request queue is full ({detail})")
        if status == 404 and model is not None:
            return UnknownModel(model, self._known_names())
        if status == -1:
            return RuntimeUnavailable(f"{where} failed while streaming for {model}: {detail}")
        if 400 <= status < 500:
            return OllamaRejected(f"{where} rejected the request for {model or 'its API'} "
                                  f"(HTTP {status}): {detail}")
        return RuntimeUnavailable(f"{where} answered HTTP {status}: {detail}")

    def _known_names(self) -> list[str]:
        try:
            return [canonical_name(m.model or "") for m in self._client.list().models]
        except (ollama.ResponseError, ConnectionError, httpx.HTTPError):
            return []


def _means_missing_manifest(detail: str) -> bool:
    return "manifest" in detail and ("does not exist" in detail or "not found" in detail)


# -- pure helpers ---------------------------------------------------------------------------


def estimate_chat_tokens(request: ChatRequest) -> int:
    """Tokens a chat prompt takes, estimated on the high side on purpose.

    Ollama exposes no tokenizer, and the estimate decides whether a prompt fits the context, so
    an overestimate (a prompt refused that would just have fit) is the safe error. Checked
    against Gemma 3's real tokenizer in the tests: about 1.3× for English prose and Python, 1.4×
    for JSON, 1.8× for Chinese, and exact for digits (most tokenizers spend one token per digit).
    Tool definitions, tool calls and a response schema are counted as the JSON they are sent
    as; each image as TOKENS_PER_IMAGE.
    """
    total = TOKENS_FOR_REPLY_PRIMER
    for message in request.messages:
        text = message.text() + "".join(c.name + c.arguments for c in message.tool_calls)
        total += TOKENS_PER_MESSAGE + estimate_text_tokens(text)
        total += TOKENS_PER_IMAGE * len(message.images)
    if request.tools:
        total += estimate_text_tokens(json.dumps([dataclasses.asdict(t) for t in request.tools]))
    if request.response_format.schema is not None:
        total += estimate_text_tokens(json.dumps(request.response_format.schema))
    return total


def chat_tokens_at_most(request: ChatRequest) -> int | None:
    """A figure `estimate_chat_tokens` never exceeds, from the lengths of the texts alone:
    each piece the estimate counts costs at most two tokens a character (a word a token per
    letter at most, a symbol one per two UTF-8 bytes of its one character). A context check
    that this bound passes needs no estimate, which reads every character of a long
    document. None when the request carries tools or a schema (counted as their JSON)."""
    if request.tools or request.response_format.schema is not None:
        return None
    total = TOKENS_FOR_REPLY_PRIMER
    for message in request.messages:
        characters = len(message.text()) + sum(len(c.name) + len(c.arguments)
                                                for c in message.tool_calls)
        total += TOKENS_PER_MESSAGE + 2 * characters + TOKENS_PER_IMAGE * len(message.images)
    return total


_PIECES = re.compile(r" ?[^\W\d_]+|\d|\s+|.", re.S)
"""A word with its leading space, a digit, a run of whitespace, or any other single character."""


def estimate_text_tokens(text: str) -> int:
    """Words cost a token per 4 letters (CJK: one per character), each digit and punctuation
    mark one, a run of whitespace one per 8, other symbols (emoji) one per 2 UTF-8 bytes."""
    count = 0
    for match in _PIECES.finditer(text):
        piece = match.group()
        last = piece[-1]
        if last.isalpha():
            ideographs = sum(map(_is_cjk, piece))
            count += ideographs + math.ceil((len(piece.strip()) - ideographs) / 4)
        elif last.isspace():
            count += 1 + len(piece) // 8
        elif last.isascii():
            count += 1
        else:
            count += math.ceil(len(last.encode("utf-8")) / 2)
    return count


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return 0x2E80 <= code <= 0x9FFF or 0xAC00 <= code <= 0xD7AF or 0xF900 <= code <= 0xFAFF


def _ollama_options(num_ctx: int, options: GenerateOptions) -> dict:
    chosen = {
        "num_ctx": num_ctx,
        "num_predict": options.max_tokens,
        "temperature": options.temperature,
        "top_p": options.top_p,
        "seed": options.seed,
        "stop": list(options.stop) or None,
    }
    return {k: v for k, v in chosen.items() if v is not None}


def _finish(part: Any) -> str | None:
    if not part.done:
        return None
    return "length" if part.done_reason == "length" else "stop"


def _timings(part: Any) -> Timings:
    return Timings(
        total_duration=part.total_duration or 0,
        load_duration=part.load_duration or 0,
        prompt_eval_count=part.prompt_eval_count or 0,
        prompt_eval_duration=part.prompt_eval_duration or 0,
        eval_count=part.eval_count or 0,
        eval_duration=part.eval_duration or 0,
    )


def _footprint(entry: Any) -> int:
    """The whole model, GPU and CPU parts together (size; size_vram if size is missing)."""
    return int(entry.size or 0) or int(entry.size_vram or 0)


def _slots(num_ctx: int | None, runner_ctx: int | None) -> int | None:
    """Ollama's parallel for a model we loaded with `num_ctx`, when its runner's context shows
    it (num_ctx × parallel); None when it cannot tell (one slot looks the same as a version
    that reports the context per request)."""
    if not num_ctx or not runner_ctx or runner_ctx <= num_ctx or runner_ctx % num_ctx:
        return None
    return runner_ctx // num_ctx


def local_num_parallel(url: str,
                       processes: Callable[[], Iterator[Any]] | None = None
                       ) -> ParallelSetting | None:
    """Read OLLAMA_NUM_PARALLEL from the `ollama serve` process that listens on `url`'s port
    (its OLLAMA_HOST), where this user may read its environment; on macOS, from launchctl
    (where the menu-bar app takes its settings) when no process says. None when tierd cannot
    tell: a remote host, no such process, an environment it may not read (Ollama's systemd
    service runs as its own user).
    """
    if not url or not url_is_loopback(url):
        return None
    port = urllib.parse.urlsplit(url).port or DEFAULT_PORT
    listing = processes or (lambda: psutil.process_iter(["pid", "name", "cmdline", "environ"]))
    for proc in listing():
        info = proc.info
        cmdline = info.get("cmdline") or []
        if info.get("name") != "ollama" or "serve" not in cmdline[1:]:
            continue
        env = info.get("environ")
        if env is None:
            continue  # not ours to read
        if _port_of(env.get("OLLAMA_HOST", "")) != port:
            continue
        raw = env.get("OLLAMA_NUM_PARALLEL", "").strip().strip("\"'")
        where = f"the environment of ollama serve (pid {info.get('pid')})"
        if not raw:
            return ParallelSetting(DEFAULT_NUM_PARALLEL,
                                   f"Ollama's default ({where} does not set it)")
        if raw.isdigit() and int(raw) > 0:
            return ParallelSetting(int(raw), f"OLLAMA_NUM_PARALLEL={raw} in {where}")
        return None  # Ollama ignores a bad value with a warning; so do we
    if sys.platform == "darwin" and port == DEFAULT_PORT:
        return _launchctl_num_parallel()
    return None


def _port_of(ollama_host: str) -> int:
    """The port an OLLAMA_HOST value makes Ollama listen on (11434 unless it names one)."""
    value = ollama_host.strip().strip("\"'")
    if not value:
        return DEFAULT_PORT
    if "://" not in value:
        value = "http://" + value
    try:
        return urllib.parse.urlsplit(value).port or DEFAULT_PORT
    except ValueError:
        return DEFAULT_PORT


def _launchctl_num_parallel() -> ParallelSetting | None:
    try:
        out = subprocess.run(["launchctl", "getenv", "OLLAMA_NUM_PARALLEL"], capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    raw = out.stdout.strip()
    if raw.isdigit() and int(raw) > 0:
        return ParallelSetting(int(raw), f"launchctl getenv OLLAMA_NUM_PARALLEL = {raw}")
    return None


def _model_info(name: str, entry: Any, show: ollama.ShowResponse) -> ModelInfo:
    facts = show.modelinfo or {}
    details = show.details or entry.details
    family = (details.family if details else None) or ""
    arch = facts.get("general.architecture") or family

    def fact(key: str) -> Any:
        value = facts.get(f"{arch}.{key}")
        # Some architectures give per-layer lists; the largest keeps the memory estimate safe.
        return max(value) if isinstance(value, list) and value else value

    metadata = {
        "architecture": arch,
        "block_count": fact("block_count"),
        "head_count": fact("attention.head_count"),
        "head_count_kv": fact("attention.head_count_kv"),
        "embedding_length": fact("embedding_length"),
        "key_length": fact("attention.key_length"),
        "value_length": fact("attention.value_length"),
        "quantization": details.quantization_level if details else None,
        "family": family or None,
        # What tierd's Ollama face lists, as the host itself says it.
        "digest": entry.digest,
        "modified_at": entry.modified_at.isoformat() if entry.modified_at else None,
        "parameter_size": details.parameter_size if details else None,
        "format": details.format if details else None,
        "families": list(details.families) if details and details.families else None,
        "template": show.template,
        "parameters": show.parameters,
        "model_info": dict(facts) or None,
    }
    capability = _capability(show.capabilities, arch, family)
    return ModelInfo(
        name=name,
        capability=capability,
        file_bytes=int(entry.size or 0),
        context_length=int(fact("context_length") or DEFAULT_NUM_CTX),
        metadata={k: v for k, v in metadata.items() if v is not None},
        features=_features(show.capabilities, capability),
    )


def _features(capabilities: list[str] | None, capability: Capability) -> frozenset[Feature]:
    """Ollama's own capabilities, plus json_schema for every model that completes: Ollama
    constrains any model's output to a `format` schema with a grammar. An Ollama too old to
    report capabilities gets completion (or embedding) alone."""
    found: set[Feature] = {c for c in FEATURES if c in (capabilities or ())}
    found.add("embedding" if capability == "embed" else "completion")
    if "completion" in found:
        found.add("json_schema")
    return frozenset(found)


def _capability(capabilities: list[str] | None, arch: str, family: str) -> Capability:
    if capabilities:
        embeds_only = "embedding" in capabilities and "completion" not in capabilities
        return "embed" if embeds_only else "generate"
    return "embed" if arch in EMBEDDING_FAMILIES or family in EMBEDDING_FAMILIES else "generate"


# -- a remote tierd's budget ----------------------------------------


def remote_budget(tierd_url: str, timeout: float = 5.0) -> int | None:
    """The memory budget a tierd on another host reports for itself, or None if none answers.

    Asks `GET {tierd_url}/status`, expecting `{"hosts": [{"host": name, "budget": bytes, ...}]}`;
    it takes the entry named "local" (a tierd's own machine), else the first, and its `budget`,
    else the sum of its `devices[].budget`. None (no tierd there, unreachable, another shape)
    tells the caller to fall back to the host's configured `memory_budget`.
    """
    try:
        reply = httpx.get(f"{tierd_url.rstrip('/')}/status", timeout=timeout)
        reply.raise_for_status()
        hosts = reply.json().get("hosts") or []
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    entries = [h for h in hosts if isinstance(h, dict)]
    if not entries:
        return None
    entry = next((h for h in entries if h.get("host") == "local"), entries[0])
    if isinstance(entry.get("budget"), int):
        return entry["budget"]
    device_budgets = [d.get("budget") for d in entry.get("devices") or [] if isinstance(d, dict)]
    if device_budgets and all(isinstance(b, int) for b in device_budgets):
        return sum(device_budgets)
    return None
