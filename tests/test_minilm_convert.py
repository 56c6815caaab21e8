"""The MiniLM converter against llama.cpp's own conversion, and packaged-model materialising."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFReader
from llama_cpp import Llama

from tierd.errors import ModelFileError, UnknownModel
from tierd.runtimes.gguf_meta import read_gguf_metadata
from tierd.runtimes.minilm_gguf import convert_minilm, find_minilm_zip
from tierd.runtimes.packaged import ensure_packaged, packaged_names, packaged_path

SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
REFERENCE_GGUF = SHARED_MODELS / "all-minilm-l6-v2-f16.gguf"
REFERENCE_EMBEDDINGS = SHARED_MODELS / "all-minilm-l6-v2.reference.json"


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One folder per test session, shared by every module: each model is made once.
    return tmp_path_factory.getbasetemp() / "packaged-models"


@pytest.fixture(scope="module")
def minilm_path(models_dir: Path) -> Path:
    return ensure_packaged("packaged:all-minilm", models_dir)


def _needs(path: Path) -> None:
    if not path.is_file():
        pytest.skip(f"reference data {path} is not on this machine")


def _cosine(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_embeddings_match_llama_cpp_conversion(minilm_path: Path):
    _needs(REFERENCE_EMBEDDINGS)
    reference = json.loads(REFERENCE_EMBEDDINGS.read_text())
    assert reference["pooling"] == "mean" and reference["normalized"] is False
    model = Llama(model_path=str(minilm_path), embedding=True, n_ctx=512, verbose=False)
    vectors = model.embed(reference["texts"], normalize=False)
    for text, ours, theirs in zip(reference["texts"], vectors, reference["embeddings"]):
        assert len(ours) == 384
        assert _cosine(ours, theirs) >= 0.999, text
        # Raw vectors, not unit ones: the norms agree too.
        assert np.linalg.norm(ours) == pytest.approx(np.linalg.norm(theirs), rel=1e-2)


def test_tensors_and_keys_match_llama_cpp_conversion(minilm_path: Path):
    _needs(REFERENCE_GGUF)
    ours, theirs = GGUFReader(minilm_path), GGUFReader(REFERENCE_GGUF)

    def tensors(reader: GGUFReader) -> dict:
        return {
            t.name: (t.tensor_type.name, tuple(int(d) for d in t.shape)) for t in reader.tensors
        }

    assert tensors(ours) == tensors(theirs)
    # general.* naming differs (we name the model after the package); the rest must not.
    def keys(reader):
        return {k for k in reader.fields if not k.startswith(("general.", "GGUF."))}
    assert keys(ours) == keys(theirs)
    for key in ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "bert.pooling_type",
                "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                "tokenizer.ggml.token_type_count", "tokenizer.ggml.pre"):
        assert ours.fields[key].contents() == theirs.fields[key].contents(), key


def test_conversion_leaves_only_the_model(tmp_path: Path):
    dest = convert_minilm(tmp_path / "out" / "minilm.gguf")
    assert [p.name for p in dest.parent.iterdir()] == ["minilm.gguf"]
    assert read_gguf_metadata(dest).pooling == "mean"


def test_broken_source_raises_and_writes_nothing(tmp_path: Path):
    bad_zip = tmp_path / "model.zip"
    bad_zip.write_bytes(b"not a zip at all")
    out = tmp_path / "out"
    with pytest.raises(ModelFileError, match="cannot read the MiniLM model from .*model.zip"):
        convert_minilm(out / "minilm.gguf", source_zip=bad_zip)
    assert not out.exists() or not any(out.iterdir())


def test_package_is_found_without_importing_it():
    import sys

    assert find_minilm_zip().name == "model.zip"
    assert "all_minilm_l6_v2" not in sys.modules


def test_packaged_models_are_made_once(minilm_path: Path, models_dir: Path):
    before = minilm_path.stat().st_mtime_ns
    assert ensure_packaged("packaged:all-minilm", models_dir) == minilm_path
    assert minilm_path.stat().st_mtime_ns == before
    assert packaged_path("packaged:all-minilm", models_dir) == minilm_path
    assert packaged_names() == ["packaged:all-minilm", "packaged:gemma3-270m"]


def test_unknown_packaged_model(tmp_path: Path):
    with pytest.raises(UnknownModel, match=r"unknown model 'packaged:llama9'.*packaged:all-minilm"):
        ensure_packaged("packaged:llama9", tmp_path)


def _materialise(models_dir: str) -> str:
    return str(ensure_packaged("packaged:all-minilm", Path(models_dir)))


def test_two_processes_racing_get_one_whole_file(tmp_path: Path):
    # What a process killed mid-conversion leaves behind is swept up too.
    (tmp_path / ".all-minilm-l6-v2-f16.gguf.dead1234.tmp").write_bytes(b"half a model")
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        paths = pool.map(_materialise, [str(tmp_path)] * 2)
    assert paths[0] == paths[1]
    assert read_gguf_metadata(paths[0]).tensor_count == 101
    leftovers = [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"]
    assert leftovers == []
