"""Where a benchmark runs: one runtime on one host, and the model manager's hold on its models.

The runner never loads or unloads a model itself (the model manager is the one owner of
memory and of the queue per model); it asks through `lease` and `unload`, and every request
takes its turn through `request`, so a benchmark on a busy box evicts, reloads and queues
exactly as real traffic would.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from typing import Any, Callable, ContextManager, Iterator

from tierd import __version__
from tierd.bench.bandwidth import DecodeBound, decode_bound, lookup_bandwidth
from tierd.errors import UnknownModel
from tierd.runtimes.base import ModelInfo, Runtime

Progress = Callable[[int], None]
"""Called with the number of requests (or embed calls) just finished, for a progress bar."""


@dataclass(frozen=True)
class Target:
    runtime: Runtime
    lease: Callable[[str], ContextManager[Any]]
    """Holds a model loaded while the context is open; entering it loads a cold model."""
    unload: Callable[[str], None]
    request: Callable[[str], ContextManager[Any]]
    """One request's turn on a model (its queue and slot); held while the request runs."""
    device: str = ""
    """The device's name as the host probe reports it (matched against the bandwidth table)."""
    bandwidth_gbps: float | None = None
    """The config's memory bandwidth for this host, overriding the table."""
    versions: dict = field(default_factory=dict)

    @property
    def host(self) -> str:
        return self.runtime.host


def find_model(runtime: Runtime, model: str) -> ModelInfo:
    offered = runtime.available()
    for info in offered:
        if info.name == model:
            return info
    raise UnknownModel(model, [info.name for info in offered])


@contextlib.contextmanager
def cold_lease(target: Target, model: str) -> Iterator[float]:
    """Unload `model`, then hold a lease on it; yields the seconds the lease took (the load)."""
    target.unload(model)
    started = time.perf_counter()
    with target.lease(model):
        yield time.perf_counter() - started


def loaded_context(runtime: Runtime, info: ModelInfo) -> int:
    """The context the model was really loaded with, else the one it was trained for."""
    for loaded in runtime.loaded():
        if loaded.name == info.name and loaded.context_length:
            return loaded.context_length
    return info.context_length


def weight_bytes(info: ModelInfo) -> int:
    """Bytes read per generated token: the GGUF tensor data if the runtime knows it, else the
    file size (which adds only the small header and tokenizer)."""
    return int(info.metadata.get("tensor_bytes") or info.file_bytes)


def model_bound(target: Target, info: ModelInfo) -> tuple[DecodeBound | None, str]:
    """The decode bound and a note saying where it came from, or why there is none."""
    bandwidth = lookup_bandwidth(target.device, target.bandwidth_gbps)
    if bandwidth is None:
        return None, (
            f"no hardware bound: the memory bandwidth of {target.device or 'this device'!r} "
            "is not in tierd's table (set it in the config to get a % of the bound)"
        )
    bound = decode_bound(bandwidth, weight_bytes(info))
    if bound is None:
        return None, f"no hardware bound: the runtime does not report {info.name}'s size"
    return bound, (f"decode bound {bound.tokens_per_s:.1f} tok/s = {bandwidth.gb_per_s:g} GB/s "
                   f"({bandwidth.source}) / {bound.bytes_per_token / 1e6:.0f} MB per token")


def collect_versions(runtime: Runtime) -> dict:
    """tierd's and the inference libraries' versions, and the runtime server's if it says."""
    versions = {"tierd": __version__}
    for package in ("llama-cpp-python", "ollama"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    server_version = getattr(runtime, "server_version", None)
    if callable(server_version):
        try:
            versions["server"] = str(server_version())
        except Exception as err:  # an unreachable server fails the benchmark later, clearly
            versions["server"] = f"unknown ({type(err).__name__})"
    return versions


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
