"""Read a GGUF file's header and metadata without touching its tensor data.

The model manager estimates a model's memory before the first load from these facts, and
`tierd` lists models cheaply, so this must stay fast for a multi-gigabyte file: the file is
memory-mapped and only the header pages are read. We parse the header ourselves rather than
use `gguf.GGUFReader`, which builds a numpy view for every token of the vocabulary (hundreds
of thousands for Gemma) and reports a truncated file as a bare numpy error.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType, LlamaFileType

from tierd.errors import ModelFileError

_MAGIC = b"GGUF"
_DEFAULT_ALIGNMENT = 32
_POOLING_NAMES = {0: "none", 1: "mean", 2: "cls", 3: "last", 4: "rank"}

# GGUF value type id -> struct format of a scalar of that type.
_SCALAR_FORMATS = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
    10: "<Q", 11: "<q", 12: "<d",
}
_STRING, _ARRAY = 8, 9
# The vocabulary (tokens, scores, merges) is most of the header; nothing here needs it.
_SKIPPED_PREFIX = "tokenizer.ggml."


@dataclass(frozen=True)
class GGUFMetadata:
    """What the memory estimate and the runtime need to know about a GGUF model."""

    path: Path
    architecture: str
    name: str | None
    file_bytes: int
    tensor_count: int
    tensor_data_bytes: int
    block_count: int
    head_count: int
    head_count_kv: int
    embedding_length: int
    context_length: int
    key_length: int | None
    value_length: int | None
    quantization: str
    pooling: str | None
    """"mean", "cls", ... for embedding models; None when the file declares no pooling."""
    chat_template: str | None
    parameter_count: int = 0
    """Weights in all tensors (what Ollama's `parameter_size` says, as "268.10M")."""

    @property
    def parameter_size(self) -> str:
        return human_count(self.parameter_count)

    @property
    def has_chat_template(self) -> bool:
        return self.chat_template is not None

    @property
    def is_embedding_model(self) -> bool:
        """Encoders (BERT and kin) declare how to pool token vectors; chat models do not."""
        return self.pooling not in (None, "none")

    def as_model_metadata(self) -> dict:
        """The `ModelInfo.metadata` shape the model manager estimates from."""
        return {
            "architecture": self.architecture,
            "family": self.architecture,
            "block_count": self.block_count,
            "head_count": self.head_count,
            "head_count_kv": self.head_count_kv,
            "embedding_length": self.embedding_length,
            "key_length": self.key_length,
            "value_length": self.value_length,
            "quantization": self.quantization,
            "pooling": self.pooling,
            "has_chat_template": self.has_chat_template,
            "tensor_bytes": self.tensor_data_bytes,
            "parameter_count": self.parameter_count,
            "parameter_size": self.parameter_size,
            "general_name": self.name,
        }


class _Truncated(Exception):
    """Raised by the cursor when a read runs past the end of the file."""


class _Cursor:
    def __init__(self, data: mmap.mmap | bytes):
        self.data = data
        self.pos = 0

    def take(self, n: int) -> memoryview | bytes:
        end = self.pos + n
        if end > len(self.data):
            raise _Truncated
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def scalar(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise _Truncated
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return value

    def string(self) -> str:
        length = self.scalar("<Q")
        return bytes(self.take(length)).decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        length = self.scalar("<Q")
        self.pos += length
        if self.pos > len(self.data):
            raise _Truncated

    def value(self, type_id: int, keep: bool):
        if type_id == _STRING:
            return self.string() if keep else self.skip_string()
        if type_id == _ARRAY:
            item_type = self.scalar("<I")
            count = self.scalar("<Q")
            if keep:
                return [self.value(item_type, True) for _ in range(count)]
            self._skip_array(item_type, count)
            return None
        fmt = _SCALAR_FORMATS.get(type_id)
        if fmt is None:
            raise ValueError(f"unknown GGUF value type {type_id}")
        return self.scalar(fmt)

    def _skip_array(self, item_type: int, count: int) -> None:
        fmt = _SCALAR_FORMATS.get(item_type)
        if fmt is not None:
            self.pos += count * struct.calcsize(fmt)
            if self.pos > len(self.data):
                raise _Truncated
            return
        for _ in range(count):
            self.value(item_type, False)


def read_gguf_metadata(path: str | Path) -> GGUFMetadata:
    """Parse `path`'s header; raise ModelFileError if it is missing, not GGUF or truncated."""
    path = Path(path)
    try:
        file_bytes = path.stat().st_size
        if not path.is_file():
            raise ModelFileError(f"{path} is not a file")
        with path.open("rb") as handle:
            if file_bytes < 4:
                raise ModelFileError(f"{path} is not a GGUF file (it is only {file_bytes} bytes)")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _parse(path, data, file_bytes)
    except FileNotFoundError:
        raise ModelFileError(f"model file {path} does not exist") from None
    except PermissionError:
        raise ModelFileError(f"model file {path} cannot be read (permission denied)") from None


def _parse(path: Path, data: mmap.mmap, file_bytes: int) -> GGUFMetadata:
    magic = bytes(data[:4])
    if magic != _MAGIC:
        raise ModelFileError(f"{path} is not a GGUF file (magic {magic!r})")
    cursor = _Cursor(data)
    cursor.pos = 4
    stage = "a GGUF header"
    try:
        version = cursor.scalar("<I")
        if version < 2:
            raise ModelFileError(f"{path} is GGUF version {version}; only 2 and later load")
        tensor_count = cursor.scalar("<Q")
        kv_count = cursor.scalar("<Q")

        stage = f"{kv_count} metadata entries"
        fields: dict[str, object] = {}
        for _ in range(kv_count):
            key = cursor.string()
            type_id = cursor.scalar("<I")
            fields[key] = cursor.value(type_id, keep=not key.startswith(_SKIPPED_PREFIX))

        stage = f"{tensor_count} tensors"
        tensor_data_bytes = 0
        parameter_count = 0
        data_end = 0
        for _ in range(tensor_count):
            cursor.skip_string()
            n_dims = cursor.scalar("<I")
            dims = [cursor.scalar("<Q") for _ in range(n_dims)]
            ggml_type = cursor.scalar("<I")
            offset = cursor.scalar("<Q")
            nbytes = _tensor_bytes(path, dims, ggml_type)
            tensor_data_bytes += nbytes
            parameter_count += _elements(dims)
            data_end = max(data_end, offset + nbytes)
    except _Truncated:
        raise ModelFileError(
            f"{path} is truncated: header says {stage} but the file ends at byte {file_bytes}"
        ) from None
    except (ValueError, UnicodeDecodeError) as err:
        raise ModelFileError(f"{path} has a corrupt GGUF header: {err}") from None

    alignment = int(fields.get("general.alignment", _DEFAULT_ALIGNMENT))
    data_start = -(-cursor.pos // alignment) * alignment
    if data_start + data_end > file_bytes:
        raise ModelFileError(
            f"{path} is truncated: its {tensor_count} tensors need "
            f"{data_start + data_end} bytes but the file ends at byte {file_bytes}"
        )
    return _metadata(path, fields, file_bytes, tensor_count, tensor_data_bytes,
                     parameter_count)


def _tensor_bytes(path: Path, dims: list[int], ggml_type: int) -> int:
    try:
        block_size, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
    except (ValueError, KeyError):
        raise ModelFileError(f"{path} uses unknown tensor type {ggml_type}") from None
    return _elements(dims) // block_size * type_size


def _elements(dims: list[int]) -> int:
    elements = 1
    for dim in dims:
        elements *= dim
    return elements


def human_count(count: int) -> str:
    """A parameter count as Ollama writes it: 268.10M, 7.6B, 8B, 33K."""
    for scale, suffix, decimals in ((10**9, "B", 1), (10**6, "M", 2)):
        if count >= scale:
            value = count / scale
            return f"{value:.0f}{suffix}" if value == int(value) else \
                f"{value:.{decimals}f}{suffix}"
    return f"{count / 1000:.0f}K" if count >= 1000 else str(count)


def _metadata(
    path: Path, fields: dict, file_bytes: int, tensor_count: int, tensor_data_bytes: int,
    parameter_count: int = 0,
) -> GGUFMetadata:
    arch = fields.get("general.architecture")
    if not isinstance(arch, str):
        raise ModelFileError(f"{path} has no general.architecture key")

    def number(key: str, default: int | None = None) -> int | None:
        value = fields.get(f"{arch}.{key}", default)
        # Some architectures give per-layer head counts; the largest bounds the KV cache.
        if isinstance(value, list):
            value = max(value) if value else default
        return None if value is None else int(value)

    head_count = number("attention.head_count", 0)
    pooling_id = fields.get(f"{arch}.pooling_type")
    template = fields.get("tokenizer.chat_template")
    return GGUFMetadata(
        path=path,
        architecture=arch,
        name=fields.get("general.name") if isinstance(fields.get("general.name"), str) else None,
        file_bytes=file_bytes,
        tensor_count=tensor_count,
        tensor_data_bytes=tensor_data_bytes,
        block_count=number("block_count", 0),
        head_count=head_count,
        head_count_kv=number("attention.head_count_kv", head_count),
        embedding_length=number("embedding_length", 0),
        context_length=number("context_length", 0),
        key_length=number("attention.key_length"),
        value_length=number("attention.value_length"),
        quantization=_quantization_name(fields.get("general.file_type")),
        pooling=None if pooling_id is None else _POOLING_NAMES.get(int(pooling_id), "unknown"),
        chat_template=template if isinstance(template, str) and template.strip() else None,
        parameter_count=parameter_count,
    )


def _quantization_name(file_type: object) -> str:
    if file_type is None:
        return "unknown"
    try:
        return LlamaFileType(int(file_type)).name.removeprefix("MOSTLY_")
    except ValueError:
        return f"file_type {file_type}"
