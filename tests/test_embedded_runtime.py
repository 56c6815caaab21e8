"""The embedded llama.cpp runtime with the real packaged models: Gemma 3 270M and MiniLM."""

from __future__ import annotations

import json
import threading
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tierd.chat.request import ChatRequest, Message, TextPart
from tierd.errors import ContextOverflow, ModelFileError, TierdError, UnknownModel
from tierd.runtimes.base import Chunk, GenerateOptions, Runtime
from tierd.runtimes.chat_template import render_chat
from tierd.runtimes.embedded import EmbeddedRuntime, ModelNotLoaded, WrongCapability
from tierd.runtimes.gguf_meta import read_gguf_metadata

GEMMA, MINILM = "packaged:gemma3-270m", "packaged:all-minilm"
GEMMA_CONTEXT, MINILM_CONTEXT = 2048, 512
REFERENCE = Path(__file__).resolve().parents[2] / "shared/models/all-minilm-l6-v2.reference.json"
HELLO = ChatRequest.plain([{"role": "user", "content": "Write one sentence about the sea."}])


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One folder per test session, shared by every module: each model is made once.
    return tmp_path_factory.getbasetemp() / "packaged-models"


@pytest.fixture(scope="module")
def runtime(models_dir: Path) -> EmbeddedRuntime:
    runtime = EmbeddedRuntime("local", models_dir)
    runtime.load(GEMMA, GEMMA_CONTEXT)
    runtime.load(MINILM, MINILM_CONTEXT)
    yield runtime
    runtime.unload(GEMMA)
    runtime.unload(MINILM)


def _collect(chunks) -> tuple[str, list[Chunk]]:
    chunks = list(chunks)
    assert chunks[-1].done and all(not c.done for c in chunks[:-1])
    return "".join(c.text for c in chunks), chunks


def _cosine(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_is_a_runtime_and_lists_packaged_models_without_loading(models_dir: Path):
    fresh = EmbeddedRuntime("local", models_dir)
    assert isinstance(fresh, Runtime)
    infos = {info.name: info for info in fresh.available()}
    assert infos[GEMMA].capability == "generate" and infos[MINILM].capability == "embed"
    assert infos[GEMMA].context_length == 32768
    assert infos[GEMMA].metadata["head_count_kv"] == 1
    assert infos[MINILM].metadata["embedding_length"] == 384
    assert fresh.loaded() == []


def test_footprint_is_what_llama_cpp_allocated(runtime: EmbeddedRuntime):
    loaded = {m.name: m for m in runtime.loaded()}
    assert loaded[GEMMA].context_length == GEMMA_CONTEXT
    for name in (GEMMA, MINILM):
        footprint = runtime.footprint(name)
        assert loaded[name].bytes == footprint.total
        # The weights include every tensor of the file (plus any repacked copies).
        tensors = read_gguf_metadata(runtime.model_path(name)).tensor_data_bytes
        assert tensors <= footprint.weights < tensors * 1.2
        assert footprint.compute > 0
    gemma = runtime.metadata(GEMMA)
    # f16 K and V for every layer (llama-cpp-python keeps Gemma's sliding-window layers full).
    kv_per_token = 2 * gemma.block_count * gemma.head_count_kv * gemma.key_length * 2
    assert runtime.footprint(GEMMA).kv_cache == kv_per_token * GEMMA_CONTEXT


def test_gemma_chat_streams_real_text(runtime: EmbeddedRuntime):
    options = GenerateOptions(max_tokens=24, seed=7)
    text, chunks = _collect(runtime.chat(GEMMA, replace(HELLO, options=options)))
    assert text.strip()
    assert len(chunks) > 3
    timings = chunks[-1].timings
    assert timings.prompt_eval_count == runtime.count_tokens(GEMMA, HELLO)
    assert 0 < timings.eval_count <= 24
    # Each streamed chunk is at most one token's text (stop-string holdback aside).
    assert len([c for c in chunks[:-1] if c.text]) <= timings.eval_count
    assert timings.prompt_eval_duration > 0 and timings.eval_duration > 0
    assert timings.total_duration >= timings.prompt_eval_duration + timings.eval_duration


def test_max_tokens_ends_with_length(runtime: EmbeddedRuntime):
    _, chunks = _collect(runtime.generate(GEMMA, "Once upon a time", GenerateOptions(max_tokens=5)))
    assert chunks[-1].finish_reason == "length"
    assert chunks[-1].timings.eval_count == 5


def test_cancel_stops_generation_between_tokens(runtime: EmbeddedRuntime):
    cancel = threading.Event()
    chunks = []
    # Greedy, so every token here is plain text: one chunk per token.
    greedy = GenerateOptions(max_tokens=200, temperature=0)
    for chunk in runtime.generate(GEMMA, "Once upon a time", greedy, cancel):
        chunks.append(chunk)
        if len(chunks) == 3:
            cancel.set()
    assert chunks[-1].finish_reason == "cancelled"
    # No token is decoded once the event is set.
    assert chunks[-1].timings.eval_count == 3


def test_stop_string_cuts_the_reply(runtime: EmbeddedRuntime):
    greedy = GenerateOptions(max_tokens=20, temperature=0)
    full, _ = _collect(runtime.generate(GEMMA, "The capital of France is", greedy))
    words = full.split()
    assert len(words) >= 4
    stop = words[len(words) // 2]
    cut, chunks = _collect(
        runtime.generate(
            GEMMA,
            "The capital of France is",
            GenerateOptions(max_tokens=20, temperature=0, stop=(stop,)),
        )
    )
    assert chunks[-1].finish_reason == "stop"
    assert cut == full[: full.index(stop)]


def test_same_seed_same_reply(runtime: EmbeddedRuntime):
    options = GenerateOptions(max_tokens=8, temperature=0.9, seed=1234)
    first, _ = _collect(runtime.chat(GEMMA, replace(HELLO, options=options)))
    second, _ = _collect(runtime.chat(GEMMA, replace(HELLO, options=options)))
    assert first == second


def test_two_threads_share_one_model_safely(runtime: EmbeddedRuntime):
    greedy = GenerateOptions(max_tokens=10, temperature=0)
    expected, _ = _collect(runtime.generate(GEMMA, "Paris is", greedy))
    results: list[str] = []

    def worker():
        results.append(_collect(runtime.generate(GEMMA, "Paris is", greedy))[0])

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected, expected]


def test_gemma_uses_its_turn_format(runtime: EmbeddedRuntime):
    messages = replace(HELLO, messages=(Message("system", (TextPart("Be brief."),)),
                                        *HELLO.messages))
    prompt = render_chat(messages, "gemma3", None, "<bos>", "<eos>")
    assert prompt.text == (
        "<start_of_turn>user\nBe brief.\n\nWrite one sentence about the sea.<end_of_turn>\n"
        "<start_of_turn>model\n"
    )
    # BOS plus the turn markers as single special tokens, not spelled out.
    llm_tokens = runtime.count_tokens(GEMMA, messages)
    plain = render_chat(messages, "other", None, "", "")
    assert plain.text.startswith("<|im_start|>system\nBe brief.<|im_end|>")
    assert llm_tokens < len(prompt.text) // 3


def test_a_template_inside_the_gguf_wins():
    template = (
        "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}[assistant] {% endif %}"
    )
    messages = ChatRequest.plain([{"role": "user", "content": "hi"}])
    prompt = render_chat(messages, "gemma3", template, "<s>", "</s>")
    assert (prompt.text, prompt.template) == ("<s>[user] hi\n[assistant] ", "gguf")
    with pytest.raises(TierdError, match="chat template failed"):
        render_chat(HELLO, "x", "{{ raise_exception('no users here') }}", "", "")


def test_minilm_embeddings_match_reference(runtime: EmbeddedRuntime):
    if not REFERENCE.is_file():
        pytest.skip(f"reference data {REFERENCE} is not on this machine")
    reference = json.loads(REFERENCE.read_text())
    result = runtime.embed(MINILM, reference["texts"])
    assert len(result.vectors) == 5
    for ours, theirs in zip(result.vectors, reference["embeddings"]):
        assert _cosine(ours, theirs) >= 0.999


def test_batch_embeddings_are_raw_384_dim_and_meaningful(runtime: EmbeddedRuntime):
    texts = [
        "The scheduler evicts idle models to free GPU memory.",
        "Unloading unused models releases VRAM on the graphics card.",
        "Bananas are rich in potassium.",
    ] * 20
    result = runtime.embed(MINILM, texts)
    assert len(result.vectors) == 60 and {len(v) for v in result.vectors} == {384}
    assert result.prompt_tokens > 60 * 3  # [CLS] and [SEP] plus the words, for every text
    assert abs(np.linalg.norm(result.vectors[0]) - 1.0) > 0.05  # not normalised
    close = _cosine(result.vectors[0], result.vectors[1])
    far = _cosine(result.vectors[0], result.vectors[2])
    assert close > far + 0.2
    # The same text anywhere in the batch gets the same vector (up to float rounding).
    assert _cosine(result.vectors[0], result.vectors[3]) > 0.99999
    assert runtime.embed(MINILM, []).vectors == []
    # Longer than the 512-token context: truncated, as Ollama does, not an error.
    assert len(runtime.embed(MINILM, ["scheduler " * 2000]).vectors[0]) == 384


def test_wrong_kind_of_request(runtime: EmbeddedRuntime):
    with pytest.raises(WrongCapability, match="all-minilm is an embedding model"):
        runtime.chat(MINILM, ChatRequest(HELLO.messages, GenerateOptions()))
    with pytest.raises(WrongCapability, match="gemma3-270m generates text"):
        runtime.embed(GEMMA, ["hello"])


def test_requests_need_a_loaded_known_model(models_dir: Path):
    fresh = EmbeddedRuntime("box", models_dir)
    with pytest.raises(ModelNotLoaded, match="packaged:gemma3-270m is not loaded on box"):
        fresh.chat(GEMMA, ChatRequest(HELLO.messages, GenerateOptions()))
    with pytest.raises(ModelNotLoaded):
        fresh.embed(MINILM, ["hello"])
    with pytest.raises(WrongCapability):  # loading would not help
        fresh.embed(GEMMA, ["hello"])
    with pytest.raises(UnknownModel, match="unknown model 'llama9'"):
        fresh.chat("llama9", ChatRequest(HELLO.messages, GenerateOptions()))
    with pytest.raises(UnknownModel):
        fresh.load("packaged:llama9", 512)


def test_reload_at_another_context_and_unload(models_dir: Path, runtime: EmbeddedRuntime):
    other = EmbeddedRuntime("local", models_dir)
    small = other.load(GEMMA, 1024)
    assert other.footprint(GEMMA).kv_cache * 2 == runtime.footprint(GEMMA).kv_cache
    assert small.bytes < {m.name: m for m in runtime.loaded()}[GEMMA].bytes
    long_prompt = "word " * 1500
    with pytest.raises(ContextOverflow, match="has a context of 1024"):
        other.generate(GEMMA, long_prompt, GenerateOptions())
    other.unload(GEMMA)
    assert other.loaded() == []
    with pytest.raises(ModelNotLoaded):
        other.generate(GEMMA, "hi", GenerateOptions())


def test_bad_gguf_files_raise_and_load_nothing(models_dir: Path, tmp_path: Path):
    minilm = EmbeddedRuntime("local", models_dir).model_path(MINILM)
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(minilm.read_bytes()[: 10**6])
    not_gguf = tmp_path / "weights.gguf"
    with zipfile.ZipFile(not_gguf, "w") as archive:
        archive.writestr("model.safetensors", b"\0" * 64)
    runtime = EmbeddedRuntime("local", models_dir, model_paths={
        "truncated": str(truncated), "zip": str(not_gguf), "gone": str(tmp_path / "gone.gguf"),
    })
    with pytest.raises(ModelFileError, match="truncated.gguf is truncated"):
        runtime.load("truncated", 512)
    with pytest.raises(ModelFileError, match=r"weights.gguf is not a GGUF file \(magic b'PK"):
        runtime.load("zip", 512)
    with pytest.raises(ModelFileError, match="gone.gguf for gone does not exist"):
        runtime.load("gone", 512)
    assert runtime.loaded() == []
    assert {info.name for info in runtime.available()} == {GEMMA, MINILM}
