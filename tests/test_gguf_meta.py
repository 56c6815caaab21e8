"""GGUF metadata from the real packaged models, checked against gguf's own reader."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from gguf import GGUFReader

from tierd.errors import ModelFileError
from tierd.runtimes.gguf_meta import read_gguf_metadata
from tierd.runtimes.packaged import ensure_packaged


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One folder per test session, shared by every module: each model is made once.
    return tmp_path_factory.getbasetemp() / "packaged-models"


@pytest.fixture(scope="module")
def gemma_path(models_dir: Path) -> Path:
    return ensure_packaged("packaged:gemma3-270m", models_dir)


@pytest.fixture(scope="module")
def minilm_path(models_dir: Path) -> Path:
    return ensure_packaged("packaged:all-minilm", models_dir)


def test_gemma_metadata(gemma_path: Path):
    meta = read_gguf_metadata(gemma_path)
    assert meta.architecture == "gemma3"
    assert meta.file_bytes == gemma_path.stat().st_size
    assert (meta.block_count, meta.head_count, meta.head_count_kv) == (18, 4, 1)
    assert (meta.embedding_length, meta.key_length, meta.value_length) == (640, 256, 256)
    assert meta.context_length == 32768
    assert meta.quantization == "Q4_K_M"
    assert not meta.has_chat_template and meta.chat_template is None
    assert meta.pooling is None and not meta.is_embedding_model


def test_minilm_metadata(minilm_path: Path):
    meta = read_gguf_metadata(minilm_path)
    assert meta.architecture == "bert"
    assert (meta.block_count, meta.head_count, meta.head_count_kv) == (6, 12, 12)
    assert (meta.embedding_length, meta.context_length) == (384, 512)
    assert meta.key_length is None and meta.value_length is None
    assert meta.quantization == "F16"
    assert meta.pooling == "mean" and meta.is_embedding_model
    assert meta.as_model_metadata()["head_count_kv"] == 12


def test_tensor_bytes_agree_with_gguf_reader(minilm_path: Path):
    # Only the small model: GGUFReader takes ~25 s on Gemma's 262k-token vocabulary here.
    reader = GGUFReader(minilm_path)
    meta = read_gguf_metadata(minilm_path)
    assert meta.tensor_count == len(reader.tensors)
    assert meta.tensor_data_bytes == sum(int(t.n_bytes) for t in reader.tensors)


def test_gemma_tensor_data_is_most_of_the_file(gemma_path: Path):
    meta = read_gguf_metadata(gemma_path)
    assert meta.tensor_count == 236
    # What is left is the header, dominated by the vocabulary (~6 MB).
    assert 0 < meta.file_bytes - meta.tensor_data_bytes < 10 * 2**20


def test_header_cut_short_is_truncated(minilm_path: Path, tmp_path: Path):
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(minilm_path.read_bytes()[:2000])
    with pytest.raises(ModelFileError, match=r"cut.gguf is truncated: header says \d+ "
                       r"metadata entries but the file ends at byte 2000"):
        read_gguf_metadata(cut)


def test_tensor_data_cut_short_is_truncated(minilm_path: Path, tmp_path: Path):
    whole = minilm_path.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(whole[: len(whole) - 4096])
    with pytest.raises(ModelFileError, match=rf"cut.gguf is truncated: its 101 tensors need "
                       rf"{len(whole)} bytes but the file ends at byte {len(whole) - 4096}"):
        read_gguf_metadata(cut)


def test_zip_file_is_not_gguf(tmp_path: Path):
    fake = tmp_path / "model.gguf"
    with zipfile.ZipFile(fake, "w") as archive:
        archive.writestr("weights.bin", b"\0" * 64)
    with pytest.raises(
        ModelFileError, match=r"model.gguf is not a GGUF file \(magic b'PK\\x03\\x04'\)"
    ):
        read_gguf_metadata(fake)


def test_empty_and_missing_files(tmp_path: Path):
    empty = tmp_path / "empty.gguf"
    empty.touch()
    with pytest.raises(ModelFileError,
                       match=r"empty.gguf is not a GGUF file \(it is only 0 bytes\)"):
        read_gguf_metadata(empty)
    with pytest.raises(ModelFileError, match=r"model file .*absent.gguf does not exist"):
        read_gguf_metadata(tmp_path / "absent.gguf")
    with pytest.raises(ModelFileError, match=r"is not a file"):
        read_gguf_metadata(tmp_path)
