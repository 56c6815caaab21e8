"""The embedded runtime: GGUF models run in-process by llama.cpp (llama-cpp-python).

It serves the packaged models (`packaged:gemma3-270m`, `packaged:all-minilm`) and GGUF files
named in the configuration, so a box without Ollama still chats and embeds. It never decides
to load on its own: the model manager calls `load`/`unload`, and `chat`/`embed` on a model
that is not resident is an error.

Footprint: `load` reports the bytes llama.cpp allocated for the model, read from the
allocation lines llama.cpp logs while it loads ("model buffer", "KV buffer", "compute
buffer", "output buffer", summed over devices). That is the weights (memory-mapped file plus
any repacked copies), the KV cache at the requested context and the scratch buffers reserved
for one batch; llama.cpp has no public call returning the KV and compute sizes, and these
lines are exactly what it allocated. Should a future llama.cpp stop logging them, we fall
back to `llama_model_size` + `llama_state_get_size` and say so in the log.

GPU offload: on a build that can offload (Metal, CUDA: `llama_supports_gpu_offload()`), `load`
puts the `gpu_layers` the model manager chose on the accelerator (`n_gpu_layers`; -1 is all),
and the log lines say which buffers went where (a device named `CPU…` or `…_Host` is system
RAM; `CUDA0`, `Metal`, … are the accelerator's). Where NVML can see this process on the GPU
before and after the load, the bytes it gained are the accelerator part instead: that includes
what llama.cpp does not log (allocator slack, CUDA's own scratch). A process NVML does not list
yet (before its first GPU load, or in another PID namespace) is measured by the buffers.

Timings follow Ollama: `prompt_eval_duration` runs from the start of the prompt's decode to
the first sampled token, `eval_duration` from there to the last token; `load_duration` is the
time `load` took, reported once, on the first request served after that load. Every request
evaluates its whole prompt (no prefix reuse between requests), so the prompt figures are what
they say. A caller that stops reading a stream early should set its `cancel` event or close
the iterator: the model stays locked to that stream until then.
"""

from __future__ import annotations

import codecs
import ctypes
import dataclasses
import datetime as dt
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import llama_cpp
from llama_cpp import Llama

from tierd.chat.reply import call_deltas
from tierd.chat.request import ChatRequest
from tierd.errors import ContextOverflow, ModelFileError, TierdError, UnknownModel
from tierd.runtimes.base import (
    Capability,
    Chunk,
    EmbedBatch,
    Embeddings,
    Feature,
    GenerateOptions,
    LoadedModel,
    ModelInfo,
    Offload,
    Timings,
)
from tierd.runtimes.chat_template import (
    FALLBACK_STOPS,
    ChatPrompt,
    fallback_format,
    listed_template,
    render_chat,
)
from tierd.runtimes.constrained import Decoding, decoding_for, read_reply
from tierd.runtimes.gguf_meta import GGUFMetadata, read_gguf_metadata
from tierd.runtimes.packaged import PREFIX as PACKAGED_PREFIX
from tierd.runtimes.packaged import ensure_packaged, packaged_names

log = logging.getLogger(__name__)

# llama.cpp's defaults for sampling, used when a request leaves them out.
_DEFAULT_TEMPERATURE = 0.8
_DEFAULT_TOP_P = 0.95
# Decoding batch for generative models. llama.cpp reserves logits for every slot of a batch,
# so scratch memory grows with it: Gemma 3's 262k-token vocabulary takes 1 MiB per slot
# (514 MiB at llama.cpp's default of 512). On CPU, prompt speed measured the same from 64 to
# 512 slots (~300 tokens/s for gemma3-270m here).
_GENERATE_BATCH = 128
TOKEN_MEMO_SIZE = 64
"""Rendered prompts whose tokens are remembered (see `_prompt_tokens`)."""
EMBED_BATCH = EmbedBatch(max_texts=16, max_bytes=32 * 1024)
"""What one embed call carries at most. Each text is its own decode (see `embed`), so a bigger
call saves nothing per text (`tierd bench` here: 67-70 texts/s one a call, 62-65 at 32 a
call); it only holds the model longer, and a search query waits behind the call in flight:
16 chunks of code (about 170 tokens each) take one to two seconds on this 2-core CPU."""


class ModelNotLoaded(TierdError):
    """A request reached a model the model manager has not loaded."""

    http_status = 409


class WrongCapability(TierdError):
    """A chat request for an embedding model, or an embedding request for a chat model."""


@dataclass(frozen=True)
class Footprint:
    """Bytes llama.cpp allocated for one loaded model, by purpose, and where they sit."""

    weights: int
    kv_cache: int
    compute: int
    output: int
    gpu: int = 0
    """The part of the above in the accelerator's buffers, as llama.cpp logged them."""
    gpu_measured: int | None = None
    """What NVML saw this process gain on the GPU during the load; None where it cannot."""

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.compute + self.output

    @property
    def accelerator(self) -> int:
        """Bytes on the accelerator: NVML's per-process figure where there is one, else
        llama.cpp's buffers."""
        return self.gpu if self.gpu_measured is None else self.gpu_measured

    @property
    def bytes(self) -> int:
        """The whole footprint: what sits in RAM plus what sits on the accelerator."""
        return self.total - self.gpu + self.accelerator


@dataclass
class _Resident:
    """A loaded model. `lock` keeps two threads out of one llama context."""

    name: str
    llm: Llama
    meta: GGUFMetadata
    context_length: int
    footprint: Footprint
    unreported_load_ns: int
    gpu_layers: int = 0
    """Layers on the accelerator as asked of llama.cpp (-1: all)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_load_ns(self) -> int:
        """The load time, the first time it is asked for after the load; 0 afterwards."""
        reported, self.unreported_load_ns = self.unreported_load_ns, 0
        return reported

    @property
    def capability(self) -> Capability:
        return _capability(self.meta)


class EmbeddedRuntime:
    """In-process llama.cpp: packaged models plus configured GGUF files (name -> path)."""

    def __init__(
        self,
        host: str,
        models_dir: Path,
        model_paths: dict[str, str] | None = None,
        n_threads: int | None = None,
        gpu_offload: bool | None = None,
        gpu_memory: Callable[[], int | None] | None = None,
    ):
        """`gpu_offload` says whether this llama.cpp build can offload (None: ask the build;
        tests pass True to play a CUDA build). `gpu_memory` returns the bytes this process
        holds on the GPU by NVML, or None where NVML cannot tell."""
        self.host = host
        supported = llama_cpp.llama_supports_gpu_offload() if gpu_offload is None else gpu_offload
        self.offload: Offload = "layers" if supported else "none"
        self.gpu_memory = gpu_memory
        self.models_dir = Path(models_dir).expanduser()
        self.model_paths = dict(model_paths or {})
        self.n_threads = n_threads
        self._residents: dict[str, _Resident] = {}
        self._residents_lock = threading.Lock()
        self._metadata: dict[Path, tuple[tuple[int, int], GGUFMetadata]] = {}
        self._infos: dict[str, tuple[GGUFMetadata, ModelInfo]] = {}
        """Each model's listing, made again only when its file's metadata is read again (the
        file changed): every routed request lists the models."""
        self._vocab_only: dict[Path, Llama] = {}
        self._token_memo: OrderedDict[tuple[Path, str], tuple[int, ...]] = OrderedDict()
        self._token_memo_lock = threading.Lock()

    # -- what exists ---------------------------------------------------------------------

    def known_names(self) -> list[str]:
        return sorted(set(self.model_paths) | set(packaged_names()))

    def model_path(self, model: str) -> Path:
        """The GGUF file for `model`; packaged models are made in models_dir on first ask."""
        if model in self.model_paths:
            return Path(self.model_paths[model]).expanduser()
        if model.startswith(PACKAGED_PREFIX) and model in packaged_names():
            return ensure_packaged(model, self.models_dir)
        raise UnknownModel(model, self.known_names())

    def metadata(self, model: str) -> GGUFMetadata:
        path = self.model_path(model)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise ModelFileError(f"model file {path} for {model} does not exist") from None
        key = (stat.st_size, stat.st_mtime_ns)
        cached = self._metadata.get(path)
        if cached is None or cached[0] != key:
            cached = (key, read_gguf_metadata(path))
            self._metadata[path] = cached
        return cached[1]

    def available(self) -> list[ModelInfo]:
        """Every model whose GGUF reads; packaged ones are materialised on the first call
        (about a second each, once per models folder), so their metadata is the real file's.
        A broken file is left out and logged; `load` names its problem."""
        infos = []
        for name in self.known_names():
            try:
                meta = self.metadata(name)
            except TierdError as err:
                log.warning("embedded model %s is unavailable: %s", name, err)
                continue
            listed = self._infos.get(name)
            if listed is None or listed[0] is not meta:
                listed = meta, ModelInfo(
                    name=name,
                    capability=_capability(meta),
                    file_bytes=meta.file_bytes,
                    context_length=meta.context_length,
                    metadata={**meta.as_model_metadata(), **_listing(meta)},
                    features=_features(meta),
                )
                self._infos[name] = listed
            infos.append(listed[1])
        return infos

    def loaded(self) -> list[LoadedModel]:
        with self._residents_lock:
            return [_loaded_model(r) for r in self._residents.values()]

    def footprint(self, model: str) -> Footprint:
        """The breakdown behind `LoadedModel.bytes`, for benchmarks and `tierd status`."""
        return self._resident(model).footprint

    # -- loading -------------------------------------------------------------------------

    def load(self, model: str, context_length: int, gpu_layers: int = 0) -> LoadedModel:
        """Load with `gpu_layers` on the accelerator (-1: all; ignored by a CPU-only build);
        a model loaded with another context or another placement is loaded again."""
        meta = self.metadata(model)
        if self.offload == "none":
            gpu_layers = 0
        if context_length <= 0:
            raise TierdError(f"context length must be positive, not {context_length}")
        if meta.context_length and context_length > meta.context_length:
            raise TierdError(
                f"{model} was trained for a context of {meta.context_length} tokens; "
                f"{context_length} is more than it can use"
            )
        with self._residents_lock:
            current = self._residents.get(model)
            if current is not None and current.context_length == context_length \
                    and current.gpu_layers == gpu_layers:
                return _loaded_model(current)
        if current is not None:
            self.unload(model)
        resident = self._create(model, meta, context_length, gpu_layers)
        with self._residents_lock:
            self._residents[model] = resident
        return _loaded_model(resident)

    def _create(self, model: str, meta: GGUFMetadata, context_length: int,
                gpu_layers: int) -> _Resident:
        embedding = meta.is_embedding_model
        # An encoder sees each text whole in one batch; a decoder streams the prompt through.
        batch = context_length if embedding else min(_GENERATE_BATCH, context_length)
        gpu_before = self._gpu_memory()
        started = time.perf_counter_ns()
        with _capture_load_log() as lines:
            try:
                llm = Llama(
                    model_path=str(meta.path),
                    n_ctx=context_length,
                    n_batch=batch,
                    n_ubatch=batch,
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads,
                    embedding=embedding,
                    n_gpu_layers=gpu_layers,
                    verbose=False,
                )
            except ValueError as err:
                raise ModelFileError(f"llama.cpp could not load {meta.path}: {err}") from None
        load_ns = time.perf_counter_ns() - started
        footprint = _footprint(llm, lines)
        gpu_after = self._gpu_memory()
        if gpu_layers and gpu_before is not None and gpu_after is not None:
            footprint = dataclasses.replace(footprint,
                                            gpu_measured=max(0, gpu_after - gpu_before))
        return _Resident(
            name=model,
            llm=llm,
            meta=meta,
            context_length=context_length,
            footprint=footprint,
            unreported_load_ns=load_ns,
            gpu_layers=gpu_layers,
        )

    def _gpu_memory(self) -> int | None:
        if self.gpu_memory is None or self.offload == "none":
            return None
        try:
            return self.gpu_memory()
        except Exception as err:  # NVML failing mid-run must not fail a load
            log.warning("NVML could not say this process's GPU memory: %s", err)
            return None

    def unload(self, model: str) -> None:
        """Free `model`; waits for a request in flight on it to finish. No-op if not loaded."""
        with self._residents_lock:
            resident = self._residents.pop(model, None)
        if resident is None:
            if model not in self.known_names():
                raise UnknownModel(model, self.known_names())
            return
        with resident.lock:
            resident.llm.close()

    def _resident(self, model: str, capability: Capability | None = None) -> _Resident:
        with self._residents_lock:
            resident = self._residents.get(model)
        if resident is not None:
            if capability is not None and resident.capability != capability:
                raise WrongCapability(_capability_message(model, resident.capability))
            return resident
        if model not in self.known_names():
            raise UnknownModel(model, self.known_names())
        # Say the more useful thing first: loading would not help a wrong-kind request.
        if capability is not None and _capability(self.metadata(model)) != capability:
            raise WrongCapability(_capability_message(model, _capability(self.metadata(model))))
        raise ModelNotLoaded(f"{model} is not loaded on {self.host}; ask the model manager")

    # -- generation ----------------------------------------------------------------------

    def chat(
        self,
        model: str,
        request: ChatRequest,
        cancel: threading.Event | None = None,
    ) -> Iterator[Chunk]:
        """Tools and response formats through llama.cpp itself: the template renders the
        tools (or tierd describes them), a grammar holds the reply to its shape, and a reply
        that may be a call is read whole before it is sent (tierd.runtimes.constrained)."""
        started = time.perf_counter_ns()
        resident = self._resident(model, "generate")
        if any(m.images for m in request.messages):
            raise TierdError(f"{model} has no vision projector: it cannot read images")
        prompt = self._chat_prompt(resident.llm, resident.meta, request)
        tokens = self._prompt_tokens(resident.llm, resident.meta.path, prompt.text)
        self._check_fits(resident, tokens)
        decoding = decoding_for(request, prompt.tools)
        chunks = self._stream(resident, tokens, request.options, prompt.stop, cancel, started,
                              decoding)
        return _read_whole(chunks, decoding, request) if decoding.buffered else chunks

    def generate(
        self,
        model: str,
        prompt: str,
        options: GenerateOptions,
        cancel: threading.Event | None = None,
    ) -> Iterator[Chunk]:
        started = time.perf_counter_ns()
        resident = self._resident(model, "generate")
        tokens = _tokenize(resident.llm, prompt)
        self._check_fits(resident, tokens)
        return self._stream(resident, tokens, options, (), cancel, started)

    def count_tokens(self, model: str, request: ChatRequest) -> int:
        """Tokens of the templated chat prompt, tools included. Works before a load: an
        unloaded model's vocabulary is read on its own (a few MB, kept for the next count)."""
        meta = self.metadata(model)
        if meta.is_embedding_model:
            raise WrongCapability(_capability_message(model, "embed"))
        with self._residents_lock:
            resident = self._residents.get(model)
        llm = resident.llm if resident is not None else self._vocabulary(meta.path)
        return len(self._prompt_tokens(llm, meta.path, self._chat_prompt(llm, meta, request).text))

    def _prompt_tokens(self, llm: Llama, path: Path, text: str) -> list[int]:
        """Tokens of a rendered chat prompt, remembered for the next few prompts.

        The context check before a request (count_tokens) and the request itself tokenize the
        same text, and tokenizing costs as much as the rest of tierd's work on a request."""
        key = (path, text)
        with self._token_memo_lock:
            remembered = self._token_memo.get(key)
            if remembered is not None:
                self._token_memo.move_to_end(key)
                return list(remembered)
        tokens = _tokenize(llm, text)
        with self._token_memo_lock:
            self._token_memo[key] = tuple(tokens)
            while len(self._token_memo) > TOKEN_MEMO_SIZE:
                self._token_memo.popitem(last=False)
        return tokens

    def _vocabulary(self, path: Path) -> Llama:
        llm = self._vocab_only.get(path)
        if llm is None:
            try:
                llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
            except ValueError as err:
                raise ModelFileError(
                    f"llama.cpp could not read the vocabulary of {path}: {err}"
                ) from None
            self._vocab_only[path] = llm
        return llm

    @staticmethod
    def _chat_prompt(llm: Llama, meta: GGUFMetadata, request: ChatRequest) -> ChatPrompt:
        return render_chat(
            request,
            architecture=meta.architecture,
            gguf_template=meta.chat_template,
            bos_token=_token_text(llm, llm.token_bos()),
            eos_token=_token_text(llm, llm.token_eos()),
        )

    @staticmethod
    def _check_fits(resident: _Resident, tokens: list[int]) -> None:
        if len(tokens) > resident.context_length:
            raise ContextOverflow(resident.name, len(tokens), resident.context_length)

    def _stream(
        self,
        resident: _Resident,
        tokens: list[int],
        options: GenerateOptions,
        template_stops: tuple[str, ...],
        cancel: threading.Event | None,
        started: int,
        decoding: Decoding | None = None,
    ) -> Iterator[Chunk]:
        llm = resident.llm
        grammar = decoding.llama_grammar() if decoding is not None else None
        room = resident.context_length - len(tokens)
        max_new = room if options.max_tokens is None else max(0, min(options.max_tokens, room))
        stops = _StopScanner(template_stops + tuple(options.stop))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        vocab = llm._model.vocab  # llama-cpp-python keeps the vocab handle here (0.3.x)

        with resident.lock:
            load_ns = resident.take_load_ns()
            llm.reset()
            llm.set_seed(llama_cpp.LLAMA_DEFAULT_SEED if options.seed is None else options.seed)
            prompt_started = time.perf_counter_ns()
            first_token_at: int | None = None
            generated: list[int] = []
            history = list(tokens)  # lets the detokenizer drop SentencePiece's leading space
            finish = "length"
            tokens_out = llm.generate(
                tokens,
                temp=_DEFAULT_TEMPERATURE if options.temperature is None else options.temperature,
                top_p=_DEFAULT_TOP_P if options.top_p is None else options.top_p,
                grammar=grammar,
            )
            try:
                while len(generated) < max_new:
                    if cancel is not None and cancel.is_set():
                        finish = "cancelled"
                        break
                    token = next(tokens_out)
                    if first_token_at is None:
                        first_token_at = time.perf_counter_ns()
                    if llama_cpp.llama_vocab_is_eog(vocab, token):
                        finish = "stop"
                        break
                    piece = llm.detokenize([token], prev_tokens=history)
                    generated.append(token)
                    history.append(token)
                    text, stopped = stops.feed(decoder.decode(piece))
                    if text:
                        yield Chunk(text=text)
                    if stopped:
                        finish = "stop"
                        break
            finally:
                tokens_out.close()
            finished = time.perf_counter_ns()

        # Text held back because it might have begun a stop string, which it did not.
        tail = "" if finish == "stop" else stops.flush() + decoder.decode(b"", final=True)
        eval_started = first_token_at or finished
        yield Chunk(
            text=tail,
            done=True,
            finish_reason=finish,
            timings=Timings(
                total_duration=finished - started + load_ns,
                load_duration=load_ns,
                prompt_eval_count=len(tokens),
                prompt_eval_duration=eval_started - prompt_started,
                eval_count=len(generated),
                eval_duration=finished - eval_started,
            ),
        )

    # -- embeddings ----------------------------------------------------------------------

    def embed_batch(self, model: str) -> EmbedBatch:
        return EMBED_BATCH

    def embed(self, model: str, texts: list[str]) -> Embeddings:
        """Raw (unnormalised) pooled vectors, one per text. A text longer than the context is
        truncated, as Ollama does.

        Each text is decoded as its own sequence: packed into one batch, a BERT model's
        attention spans every token of the batch, and 32 texts of ~50 tokens took 1.8x as long
        that way on this CPU (the vectors agree to 1e-4)."""
        started = time.perf_counter_ns()
        resident = self._resident(model, "embed")
        vectors: list[list[float]] = []
        prompt_tokens = 0
        with resident.lock:
            load_ns = resident.take_load_ns()
            for text in texts:
                [vector], count = resident.llm.embed(
                    [text], normalize=False, truncate=True, return_count=True
                )
                vectors.append(vector)
                prompt_tokens += count
        return Embeddings(
            vectors=vectors,
            prompt_tokens=prompt_tokens,
            total_duration=time.perf_counter_ns() - started + load_ns,
            load_duration=load_ns,
        )


class _StopScanner:
    """Finds stop strings in streamed text, holding back any tail that might begin one."""

    def __init__(self, stops: tuple[str, ...]):
        self.stops = tuple(s for s in stops if s)
        self.pending = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """Return (text safe to emit, whether a stop string was reached)."""
        self.pending += text
        hits = [i for i in (self.pending.find(s) for s in self.stops) if i >= 0]
        if hits:
            emit, self.pending = self.pending[: min(hits)], ""
            return emit, True
        keep = max((_overlap(self.pending, s) for s in self.stops), default=0)
        emit = self.pending[: len(self.pending) - keep]
        self.pending = self.pending[len(emit):]
        return emit, False

    def flush(self) -> str:
        rest, self.pending = self.pending, ""
        return rest


def _overlap(text: str, stop: str) -> int:
    """Length of the longest end of `text` that is a beginning of `stop`."""
    for length in range(min(len(text), len(stop) - 1), 0, -1):
        if stop.startswith(text[-length:]):
            return length
    return 0


def _tokenize(llm: Llama, text: str) -> list[int]:
    """Tokens of `text`, parsing special-token text (templates write <start_of_turn> etc.).
    BOS is added unless the text already starts with it, as rendered templates often do."""
    tokens = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
    bos = llm.token_bos()
    if len(tokens) > 1 and tokens[0] == bos and tokens[1] == bos:
        tokens = tokens[1:]
    return tokens


def _token_text(llm: Llama, token: int) -> str:
    if token < 0:
        return ""
    return llm.detokenize([token], special=True).decode("utf-8", errors="replace")


def _listing(meta: GGUFMetadata) -> dict:
    """What Ollama's listings say of a model: its file, when that was written, the template
    it is prompted with and the sampling it runs with when a request sets none."""
    modified = dt.datetime.fromtimestamp(meta.path.stat().st_mtime, dt.timezone.utc)
    if meta.is_embedding_model:
        return {"path": str(meta.path), "modified_at": modified.isoformat(),
                "template": "{{ .Prompt }}", "parameters": ""}
    parameters = [f"temperature {_DEFAULT_TEMPERATURE}", f"top_p {_DEFAULT_TOP_P}"]
    if not meta.chat_template:
        parameters += [f'stop "{stop}"' for stop in FALLBACK_STOPS[
            fallback_format(meta.architecture)]]
    return {"path": str(meta.path), "modified_at": modified.isoformat(),
            "template": listed_template(meta.architecture, meta.chat_template),
            "parameters": "\n".join(parameters)}


def _capability(meta: GGUFMetadata) -> Capability:
    return "embed" if meta.is_embedding_model else "generate"


def _features(meta: GGUFMetadata) -> frozenset[Feature]:
    """Every chat model here takes tools (through its template, or described by tierd and
    held to a call by a grammar) and structured output (a grammar); none reads images, as
    tierd loads no vision projector."""
    if meta.is_embedding_model:
        return frozenset({"embedding"})
    return frozenset({"completion", "tools", "json_schema"})


def _read_whole(chunks: Iterator[Chunk], decoding: Decoding, request: ChatRequest
                ) -> Iterator[Chunk]:
    """Gather a reply that may be a tool call, then hand it on as one final chunk: its text,
    or its calls (finish reason "tool_calls")."""
    pieces = []
    for chunk in chunks:
        pieces.append(chunk.text)
        if not chunk.done:
            continue
        text = "".join(pieces)
        if chunk.finish_reason != "stop":  # cut short or cancelled: not a whole call
            yield Chunk(text, done=True, finish_reason=chunk.finish_reason,
                        timings=chunk.timings)
            return
        text, calls = read_reply(decoding, text, request)
        yield Chunk(text, done=True, finish_reason="tool_calls" if calls else "stop",
                    timings=chunk.timings, tool_calls=call_deltas(calls))


def _capability_message(model: str, capability: Capability) -> str:
    if capability == "embed":
        return f"{model} is an embedding model: it cannot chat or generate text"
    return f"{model} generates text: it has no embeddings (use an embedding model)"


def _loaded_model(resident: _Resident) -> LoadedModel:
    layers = resident.meta.block_count + 1 if resident.meta.block_count else None
    gpu_layers = resident.gpu_layers
    if gpu_layers < 0 or (layers and gpu_layers > layers):
        gpu_layers = layers if layers else -1
    return LoadedModel(
        name=resident.name,
        context_length=resident.context_length,
        bytes=resident.footprint.bytes,
        gpu_bytes=resident.footprint.accelerator,
        gpu_layers=gpu_layers,
        layers=layers,
        slots=1,  # one llama.cpp context serves one request at a time
    )


# -- reading llama.cpp's allocations from its log ----------------------------------------

_BUFFER_LINE = re.compile(r"(\S+)\s+(model|KV|RS|compute|output) buffer size =\s*([\d.]+) MiB")
_PURPOSE = {"model": "weights", "KV": "kv_cache", "RS": "kv_cache", "compute": "compute",
            "output": "output"}
_capture_lock = threading.Lock()  # the log callback is process-wide: one capture at a time
_captured: list[str] | None = None


# llama.cpp's chatter goes to Python logging, not stderr: it is loud at load time (and
# llama-cpp-python's own callback misreads its levels, printing warnings as errors). Its
# warnings are routine ("using full-size SWA cache"), hence one level down.
_llama_cpp_log = logging.getLogger("tierd.llama_cpp")
_LOG_LEVELS = {3: logging.INFO, 4: logging.WARNING}  # GGML_LOG_LEVEL_WARN, _ERROR


@llama_cpp.llama_log_callback
def _log_callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    line = text.decode("utf-8", errors="replace")
    if _captured is not None:
        _captured.append(line)
    if line.strip():
        _llama_cpp_log.log(_LOG_LEVELS.get(level, logging.DEBUG), "%s", line.rstrip())


llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))


@contextmanager
def _capture_load_log() -> Iterator[list[str]]:
    """Collect llama.cpp's log lines for the duration of one load."""
    global _captured
    with _capture_lock:
        _captured = lines = []
        try:
            yield lines
        finally:
            _captured = None


def is_host_buffer(device: str) -> bool:
    """llama.cpp names system-RAM buffers CPU, CPU_Mapped, CPU_REPACK, CUDA_Host, ...; every
    other device (CUDA0, Metal, Vulkan0, ...) is an accelerator's."""
    return device.startswith("CPU") or device.endswith("_Host")


def _footprint(llm: Llama, lines: list[str]) -> Footprint:
    sizes = {"weights": 0, "kv_cache": 0, "compute": 0, "output": 0}
    gpu = 0
    for line in lines:
        match = _BUFFER_LINE.search(line)
        if match:
            size = round(float(match.group(3)) * 2**20)
            sizes[_PURPOSE[match.group(2)]] += size
            if not is_host_buffer(match.group(1)):
                gpu += size
    if sizes["weights"] == 0 or sizes["compute"] == 0:
        log.warning("llama.cpp logged no buffer sizes; footprint is weights + state size only")
        return Footprint(
            weights=llama_cpp.llama_model_size(llm._model.model),
            kv_cache=llama_cpp.llama_state_get_size(llm._ctx.ctx),
            compute=0,
            output=0,
        )
    return Footprint(**sizes, gpu=gpu)
