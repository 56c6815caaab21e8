"""The thin seam between the probe and the operating system.

NVML and macOS `sysctl` cannot exist on every machine that runs the tests, so the probe reads
them through this object; tests hand in a fake RTX 4060 Ti or M4 Pro. psutil is real everywhere.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable

import psutil


def _load_nvml() -> ModuleType | None:
    try:
        import pynvml  # provided by nvidia-ml-py
    except ImportError:
        return None
    return pynvml


def _sysctl(name: str) -> str | None:
    """`sysctl -n NAME`, or None when the key does not exist on this kernel."""
    try:
        out = subprocess.run(
            ["sysctl", "-n", name], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def _cpu_name() -> str:
    """"Apple M4 Pro" on a Mac (platform.processor() only says "arm"), else the processor."""
    if sys.platform == "darwin":
        brand = _sysctl("machdep.cpu.brand_string")
        if brand:
            return brand
    return platform.processor() or platform.machine()


def _is_apple_silicon() -> bool:
    return sys.platform == "darwin" and platform.machine() == "arm64"


@dataclass
class Seams:
    nvml: Callable[[], Any] = _load_nvml
    """Returns the pynvml module (or a fake with the same functions), or None."""
    sysctl: Callable[[str], str | None] = _sysctl
    apple_silicon: Callable[[], bool] = _is_apple_silicon
    virtual_memory: Callable[[], Any] = field(default=psutil.virtual_memory)
    cpu_name: Callable[[], str] = field(default=lambda: _cpu_name())
