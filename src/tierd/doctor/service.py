"""The checks behind `tierd doctor`: can this machine run tierd, and what to do where not.

Each check reads one part as it is now (the Python and its SQLite, sqlite-vec, the llama.cpp
build and its GPU offload, NVML or sysctl, each Ollama host, each provider's key, the state
folder and its disk) and never changes anything but a probe file in the state folder. A check
that fails says how to fix it; "warn" marks something that works but not as well as it could
(a CPU-only llama.cpp on a machine with a GPU), and does not fail the doctor.

The config is read without building a tierd (`open_tierd` would stop at the first missing key),
so every problem shows at once.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Literal

import httpx

from tierd.config import Config, HostConfig, load_config
from tierd.errors import ConfigError
from tierd.hosts.probe import apple_gpu_share
from tierd.hosts.seams import Seams
from tierd.sizes import format_size

Status = Literal["ok", "warn", "fail"]

MIN_FREE_DISK = 2 * 1024**3
"""Below this the state folder's disk fails the check: a packaged model and the index need it."""
LOW_FREE_DISK = 10 * 1024**3
"""Below this it warns: one more real model would not fit."""

BACKEND_STAMP = ".tierd-llama-backend"
"""Written into the virtualenv by scripts/install: the llama.cpp build it chose."""


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def run_checks(config_path: str | None = None, seams: Seams | None = None) -> list[Check]:
    """Every check, in the order `tierd doctor` prints them."""
    seams = seams or Seams()
    checks = [check_python(), *check_sqlite(), check_llama_cpp(seams), check_devices(seams)]
    try:
        config = load_config(config_path)
    except ConfigError as err:
        checks.append(Check("config", "fail", "; ".join(err.problems),
                            "run `tierd config check` and correct the file"))
        return checks
    checks.append(Check("config", "ok", config.source))
    for i, host in enumerate(config.hosts):
        if host.runtime == "ollama":
            checks.append(check_ollama_host(host, i))
    checks.extend(check_provider_keys(config))
    checks.append(check_state_folder(config.state_path))
    checks.append(check_free_disk(config.state_path))
    return checks


def failed(checks: list[Check]) -> bool:
    return any(c.status == "fail" for c in checks)


# -- this Python and its SQLite -----------------------------------------------------------------


def check_python() -> Check:
    version = platform.python_version()
    if sys.version_info < (3, 11):
        return Check("python", "fail", f"{version} at {sys.executable}",
                     "tierd needs Python 3.11 or newer: PYTHON=python3.11 scripts/install")
    return Check("python", "ok", f"{version} at {sys.executable}")


def check_sqlite() -> list[Check]:
    try:
        from tierd.db import connect, driver_info
    except RuntimeError as err:  # no SQLite that can load extensions
        return [Check("sqlite driver", "fail", str(err),
                      "pip install sqlean-py (scripts/install does), or use a Python whose "
                      "sqlite3 loads extensions")]
    info = driver_info()
    why = ("the standard library's sqlite3 loads extensions" if info.module == "sqlite3" else
           f"this Python's sqlite3 ({info.stdlib_sqlite_version}) cannot load extensions, so "
           "the sqlean-py drop-in serves")
    driver = Check("sqlite driver", "ok", f"{info.module}, SQLite {info.sqlite_version}: {why}")
    try:
        conn = connect(":memory:", vec=True)
        version = conn.execute("SELECT vec_version()").fetchone()[0]
        conn.execute("CREATE VIRTUAL TABLE probe USING vec0(embedding float[4])")
        conn.close()
    except Exception as err:
        return [driver, Check("sqlite-vec", "fail", f"cannot be loaded: {err}",
                              "pip install --force-reinstall 'sqlite-vec==0.1.9' "
                              "(scripts/install does)")]
    return [driver, Check("sqlite-vec", "ok", f"{version} loads on {info.module}")]


# -- llama.cpp and the accelerator ---------------------------------------------------------------


def installed_backend() -> str | None:
    """The build scripts/install chose for this virtualenv ("metal", "cuda", "cpu"), if any."""
    stamp = Path(sys.prefix) / BACKEND_STAMP
    try:
        return stamp.read_text().strip() or None
    except OSError:
        return None


def accelerator(seams: Seams) -> str | None:
    """"nvidia" or "apple" when this machine has a GPU llama.cpp could use, else None."""
    nvml = seams.nvml()
    if nvml is not None:
        try:
            nvml.nvmlInit()
            try:
                if nvml.nvmlDeviceGetCount() > 0:
                    return "nvidia"
            finally:
                nvml.nvmlShutdown()
        except Exception:
            pass
    return "apple" if seams.apple_silicon() else None


def check_llama_cpp(seams: Seams, supports_offload: Callable[[], bool] | None = None) -> Check:
    try:
        import llama_cpp
    except ImportError as err:
        return Check("llama.cpp", "fail", f"llama-cpp-python is not installed ({err})",
                     "run scripts/install")
    offload = (supports_offload or llama_cpp.llama_supports_gpu_offload)()
    backend = installed_backend()
    built = f"llama-cpp-python {llama_cpp.__version__}" + (
        f", installed as the {backend} build" if backend else "")
    gpu = accelerator(seams)
    if offload:
        return Check("llama.cpp", "ok", f"{built}; GPU offload: yes")
    if gpu is None:
        return Check("llama.cpp", "ok", f"{built}; CPU only (no GPU on this machine)")
    wanted = "cuda" if gpu == "nvidia" else "metal"
    return Check("llama.cpp", "warn",
                 f"{built}; CPU only, though this machine has an {gpu} GPU: embedded models run "
                 "on the CPU",
                 f"TIERD_LLAMA_BACKEND={wanted} scripts/install (a CUDA build needs nvcc on the "
                 "PATH)")


def check_devices(seams: Seams) -> Check:
    """NVML on Linux, sysctl on a Mac: what the host probe reads its budgets from."""
    if sys.platform == "darwin" or seams.apple_silicon():
        memsize = seams.sysctl("hw.memsize")
        if not memsize or not memsize.isdigit():
            return Check("sysctl", "fail", "sysctl -n hw.memsize gave nothing",
                         "run tierd where /usr/sbin/sysctl is on the PATH")
        total = int(memsize)
        wired = seams.sysctl("iogpu.wired_limit_mb")
        usable = (f"iogpu.wired_limit_mb = {wired}" if wired and wired.isdigit() and int(wired)
                  else f"GPU may use {apple_gpu_share(total):.0%}")
        return Check("sysctl", "ok", f"hw.memsize {format_size(total)}; {usable}")
    nvml = seams.nvml()
    if nvml is None:
        return Check("nvml", "ok", "nvidia-ml-py is not installed: no NVIDIA GPU is probed")
    try:
        nvml.nvmlInit()
    except Exception as err:
        if shutil.which("nvidia-smi"):
            return Check("nvml", "fail", f"nvidia-smi is here but NVML does not start ({err})",
                         "install or repair the NVIDIA driver (nvidia-smi should list the GPU)")
        return Check("nvml", "ok", f"no NVIDIA driver ({type(err).__name__}): CPU budgets")
    try:
        names = []
        for i in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            name = nvml.nvmlDeviceGetName(handle)
            mem = nvml.nvmlDeviceGetMemoryInfo(handle)
            names.append(f"{name.decode() if isinstance(name, bytes) else name} "
                         f"{format_size(mem.total)} ({format_size(mem.free)} free)")
        return Check("nvml", "ok", "; ".join(names) or "NVML sees no GPU")
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:
            pass


# -- hosts, keys, the state folder ---------------------------------------------------------------


def check_ollama_host(host: HostConfig, index: int, timeout: float = 3.0) -> Check:
    from tierd.runtimes.ollama import local_num_parallel

    name = f"ollama {host.name}"
    try:
        reply = httpx.get(f"{host.url.rstrip('/')}/api/version", timeout=timeout)
        reply.raise_for_status()
        version = reply.json().get("version", "?")
    except (httpx.HTTPError, ValueError, AttributeError) as err:
        return Check(name, "fail", f"{host.url} cannot be reached ({type(err).__name__})",
                     f"start Ollama there (`ollama serve`), or correct hosts[{index}].url")
    setting = local_num_parallel(host.url)
    parallel = (f"OLLAMA_NUM_PARALLEL {setting.value} ({setting.source})" if setting else
                "OLLAMA_NUM_PARALLEL: cannot tell from here")
    detail = f"{host.url}: Ollama {version}; {parallel}"
    if setting and host.parallel > setting.value:
        return Check(name, "warn", f"{detail}; hosts[{index}].parallel = {host.parallel} is more",
                     f"tierd sends at most {setting.value} at once; set hosts[{index}].parallel "
                     f"= {setting.value}, or raise OLLAMA_NUM_PARALLEL there and restart Ollama")
    return Check(name, "ok", detail)


def check_provider_keys(config: Config) -> list[Check]:
    from tierd.runtimes.keys import provider_key

    checks = []
    for provider in config.providers:
        name = f"key {provider.name}"
        try:
            provider_key(provider, config)
        except ConfigError as err:
            files = " or ".join(p for p in (provider.env_file, config.env_file) if p)
            checks.append(Check(name, "fail", "; ".join(err.problems),
                                f"export {provider.api_key_env}=... in the daemon's "
                                f"environment" + (f", or add it to {files}" if files else
                                                  ", or name a file of keys in env_file")))
            continue
        checks.append(Check(name, "ok", f"{provider.api_key_env} is set"))
    return checks


def check_state_folder(state: Path) -> Check:
    """Writable, by trying; private, since the ledger and the request log live there. A
    folder that does not exist yet is made as tierd would, private to this user."""
    try:
        state.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=state, prefix=".doctor-", delete=True) as probe:
            probe.write(b"ok")
            probe.flush()
    except OSError as err:
        return Check("state folder", "fail", f"{state} is not writable ({err.strerror})",
                     f"chmod u+w {state} (owned by you?), or set state_dir to a folder you own")
    mode = state.stat().st_mode & 0o777
    if mode & 0o077:
        return Check("state folder", "warn", f"{state} is writable but open to others "
                     f"({oct(mode)})", f"chmod 700 {state}")
    return Check("state folder", "ok", f"{state} is writable and private")


def check_free_disk(state: Path) -> Check:
    where = state
    while not where.exists() and where != where.parent:
        where = where.parent
    usage = shutil.disk_usage(where)
    detail = f"{format_size(usage.free)} free of {format_size(usage.total)} at {where}"
    if usage.free < MIN_FREE_DISK:
        return Check("free disk", "fail", detail,
                     f"free at least {format_size(MIN_FREE_DISK)} there, or move state_dir")
    if usage.free < LOW_FREE_DISK:
        return Check("free disk", "warn", detail, "models need room: free some disk")
    return Check("free disk", "ok", detail)


def environment() -> dict[str, str]:
    """What a report should carry besides the checks (for --json)."""
    return {"platform": platform.platform(), "machine": platform.machine(),
            "python": sys.executable, "cwd": os.getcwd()}
