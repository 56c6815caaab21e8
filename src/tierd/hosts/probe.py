"""Probe a host's devices and compute the budget tierd may hand to models on each.

One record per device that holds models: each NVIDIA GPU on a CUDA box, the unified memory on
Apple Silicon, RAM on a CPU-only machine. A CUDA box also has its system RAM (`ram`), a second
budget: a model that is not (or not wholly) on the GPU sits there. Every figure carries where
it came from, so `tierd hosts` can say why the budget is what it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tierd.config import Config, HostConfig
from tierd.errors import ConfigError
from tierd.hosts.seams import Seams
from tierd.net import url_is_loopback
from tierd.sizes import format_size

MiB = 1024**2
GiB = 1024**3

NVIDIA_RESERVE = 457 * MiB
"""Ollama keeps this much of every CUDA GPU back for the driver and the CUDA context."""
APPLE_RESERVE = 512 * MiB
CPU_RESERVE = 1 * GiB


@dataclass(frozen=True)
class Device:
    kind: str  # nvidia | apple | cpu | remote
    index: int
    name: str
    total: int | None
    used: int | None
    free: int | None
    budget: int
    sources: dict[str, str] = field(default_factory=dict)
    """Where each figure came from, e.g. {"total": "NVML nvmlDeviceGetMemoryInfo"}."""


@dataclass(frozen=True)
class HostMemory:
    host: str
    runtime: str
    devices: tuple[Device, ...]
    override: bool
    """True when `memory_budget` from the config replaced the probed budget."""
    ram: Device | None = None
    """System RAM beside GPUs with memory of their own; None where `devices` already are the
    host's one pool (unified memory, CPU only, a remote host)."""

    @property
    def budget(self) -> int:
        """The budget of `devices`: the GPUs' memory, or the one pool."""
        return sum(d.budget for d in self.devices)

    @property
    def ram_budget(self) -> int | None:
        return None if self.ram is None else self.ram.budget

    @property
    def unified(self) -> bool:
        return any(d.kind == "apple" for d in self.devices)


def probe_hosts(config: Config, seams: Seams | None = None) -> list[HostMemory]:
    return [probe_host(h, i, seams) for i, h in enumerate(config.hosts)]


def is_local(host: HostConfig) -> bool:
    """The embedded runtime, or an Ollama host on this machine: a host tierd can probe."""
    return host.runtime == "embedded" or not host.url or url_is_loopback(host.url)


def probe_host(host: HostConfig, index: int = 0, seams: Seams | None = None) -> HostMemory:
    """Probe `host` (the local machine) or describe a remote one from its config."""
    seams = seams or Seams()
    key = f"hosts[{index}]"
    if not is_local(host):
        if host.memory_budget is None:
            raise ConfigError([
                f"{key}.memory_budget: {host.name!r} is remote ({host.url}); tierd cannot probe "
                f'it, so set its budget (e.g. memory_budget = "12GiB")'
            ])
        device = Device("remote", 0, host.url, None, None, None, int(host.memory_budget),
                        {"budget": f"config {key}.memory_budget"})
        return HostMemory(host.name, host.runtime, (device,), override=True)

    devices = _probe_nvidia(seams, host.reserve, key)
    ram = None
    if devices:
        ram = _ram_beside_gpus(_probe_cpu(seams, None, key), host.ram_budget, key)
    elif host.ram_budget is not None:
        raise ConfigError([
            f"{key}.ram_budget: {host.name!r} has no GPU with memory of its own, so RAM is its "
            "one pool: set memory_budget instead"
        ])
    if not devices and seams.apple_silicon():
        devices = [_probe_apple(seams, host.reserve, key)]
    if not devices:
        devices = [_probe_cpu(seams, host.reserve, key)]

    if host.memory_budget is None:
        return HostMemory(host.name, host.runtime, tuple(devices), override=False, ram=ram)
    total = sum(d.total or 0 for d in devices)
    if host.memory_budget > total:
        raise ConfigError([
            f"{key}.memory_budget: {format_size(host.memory_budget)} is more than the device "
            f"has ({format_size(total)} in all)"
        ])
    # Spread the override across devices in proportion to their size.
    remaining = int(host.memory_budget)
    overridden = []
    for i, d in enumerate(devices):
        share = remaining if i == len(devices) - 1 else host.memory_budget * (d.total or 0) // total
        remaining -= share
        sources = dict(
            d.sources, budget=f"config {key}.memory_budget (probe said {format_size(d.budget)})"
        )
        overridden.append(Device(d.kind, d.index, d.name, d.total, d.used, d.free, share, sources))
    return HostMemory(host.name, host.runtime, tuple(overridden), override=True, ram=ram)


def _ram_beside_gpus(ram: Device, configured: int | None, key: str) -> Device:
    """The RAM of a CUDA box as a second budget, or `ram_budget` from the config."""
    if configured is None:
        return ram
    if configured > (ram.total or 0):
        raise ConfigError([
            f"{key}.ram_budget: {format_size(configured)} is more than the RAM "
            f"({format_size(ram.total or 0)})"
        ])
    sources = dict(ram.sources, budget=f"config {key}.ram_budget (probe said "
                                       f"{format_size(ram.budget)})")
    return Device(ram.kind, ram.index, ram.name, ram.total, ram.used, ram.free,
                  int(configured), sources)


def process_gpu_bytes(seams: Seams, pid: int) -> int | None:
    """The GPU memory process `pid` holds on every NVIDIA GPU, by NVML; None where NVML is
    missing or cannot attribute memory to processes (some containers, some drivers)."""
    nvml = seams.nvml()
    if nvml is None:
        return None
    try:
        nvml.nvmlInit()
    except Exception:
        return None
    try:
        total, seen = 0, False
        for i in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            for proc in nvml.nvmlDeviceGetComputeRunningProcesses(handle):
                if proc.pid == pid and proc.usedGpuMemory is not None:
                    total += int(proc.usedGpuMemory)
                    seen = True
        # Not listed: the process has not touched a GPU yet, or NVML sees another PID
        # namespace (a container); either way NVML cannot tell, and llama.cpp's buffers will.
        return total if seen else None
    except Exception:  # NVMLError_NotSupported and kin
        return None
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:
            pass


def _reserve(configured: int | None, default: int, key: str) -> tuple[int, str]:
    if configured is None:
        return default, f"default reserve {format_size(default)}"
    return int(configured), f"config {key}.reserve {format_size(configured)}"


def _check_reserve(reserve: int, total: int, what: str, key: str) -> None:
    if reserve >= total:
        raise ConfigError([
            f"{key}.reserve: {format_size(reserve)} is not less than the {what} "
            f"({format_size(total)} in all); lower it"
        ])


def _probe_nvidia(seams: Seams, configured_reserve: int | None, key: str) -> list[Device]:
    nvml = seams.nvml()
    if nvml is None:
        return []
    try:
        nvml.nvmlInit()
    except Exception:  # NVMLError_LibraryNotFound / DriverNotLoaded: no usable NVIDIA GPU
        return []
    try:
        devices = []
        reserve, reserve_source = _reserve(configured_reserve, NVIDIA_RESERVE, key)
        for i in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            name = nvml.nvmlDeviceGetName(handle)
            name = name.decode() if isinstance(name, bytes) else str(name)
            mem = nvml.nvmlDeviceGetMemoryInfo(handle)
            _check_reserve(reserve, mem.total, f"GPU {i} ({name})", key)
            devices.append(Device(
                "nvidia", i, name, mem.total, mem.used, mem.free,
                max(0, mem.free - reserve),
                {
                    "total": "NVML nvmlDeviceGetMemoryInfo",
                    "used": "NVML nvmlDeviceGetMemoryInfo",
                    "free": "NVML nvmlDeviceGetMemoryInfo",
                    "budget": f"free at start minus {reserve_source}",
                },
            ))
        return devices
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:
            pass


def apple_gpu_share(total: int) -> float:
    """The share of RAM macOS lets the GPU wire by default (recommendedMaxWorkingSetSize)."""
    return 2 / 3 if total <= 36 * GiB else 0.75


def _probe_apple(seams: Seams, configured_reserve: int | None, key: str) -> Device:
    total = int(seams.sysctl("hw.memsize") or 0)
    sources = {"total": "sysctl hw.memsize"}
    if total <= 0:
        total = seams.virtual_memory().total
        sources["total"] = "psutil virtual_memory().total (hw.memsize unreadable)"
    wired = seams.sysctl("iogpu.wired_limit_mb")
    if wired and wired.isdigit() and int(wired) > 0:
        gpu_usable = int(wired) * MiB
        usable_source = f"sysctl iogpu.wired_limit_mb = {wired}"
    else:
        share = apple_gpu_share(total)
        gpu_usable = int(total * share)
        usable_source = f"{share:.0%} of RAM (iogpu.wired_limit_mb not set)"
    vm = seams.virtual_memory()
    reserve, reserve_source = _reserve(configured_reserve, APPLE_RESERVE, key)
    _check_reserve(reserve, total, "unified memory", key)
    budget = max(0, min(gpu_usable, vm.available) - reserve)
    sources.update({
        "used": "psutil virtual_memory()",
        "free": "psutil virtual_memory().available",
        "gpu_usable": f"{format_size(gpu_usable)}: {usable_source}",
        "budget": f"min(GPU-usable, available) minus {reserve_source}",
    })
    return Device("apple", 0, seams.cpu_name(), total, total - vm.available, vm.available,
                  budget, sources)


def _probe_cpu(seams: Seams, configured_reserve: int | None, key: str) -> Device:
    vm = seams.virtual_memory()
    reserve, reserve_source = _reserve(configured_reserve, CPU_RESERVE, key)
    _check_reserve(reserve, vm.total, "RAM", key)
    return Device(
        "cpu", 0, seams.cpu_name(), vm.total, vm.total - vm.available, vm.available,
        max(0, vm.available - reserve),
        {
            "total": "psutil virtual_memory().total",
            "used": "psutil virtual_memory() (total - available)",
            "free": "psutil virtual_memory().available",
            "budget": f"available minus {reserve_source}",
        },
    )
