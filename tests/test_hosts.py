"""The host probe: the real CPU path here, a faked RTX 4060 Ti and M4 Pro through the seam."""

from __future__ import annotations

import json
from types import SimpleNamespace

import psutil
import pytest

from tests.conftest import run_tierd
from tierd.config import HostConfig
from tierd.errors import ConfigError
from tierd.hosts.probe import APPLE_RESERVE, NVIDIA_RESERVE, probe_host
from tierd.hosts.seams import Seams

GiB = 1024**3
MiB = 1024**2


class FakeNVML:
    """Just the NVML calls tierd makes, answering like an RTX 4060 Ti 16 GB. `processes` maps
    a PID to the bytes it holds on GPU 0 (nvmlDeviceGetComputeRunningProcesses)."""

    def __init__(self, gpus: list[tuple[str, int, int]], processes: dict[int, int] | None = None):
        self.gpus = gpus
        self.processes = dict(processes or {})
        self.shut_down = False

    def nvmlInit(self): pass
    def nvmlShutdown(self): self.shut_down = True
    def nvmlDeviceGetCount(self): return len(self.gpus)
    def nvmlDeviceGetHandleByIndex(self, i): return i
    def nvmlDeviceGetName(self, i): return self.gpus[i][0]

    def nvmlDeviceGetMemoryInfo(self, i):
        _, total, used = self.gpus[i]
        return SimpleNamespace(total=total, used=used, free=total - used)

    def nvmlDeviceGetComputeRunningProcesses(self, i):
        if i:
            return []
        return [SimpleNamespace(pid=pid, usedGpuMemory=n) for pid, n in self.processes.items()]


def apple_seams(memsize: int, available: int, wired_limit_mb: str | None = None) -> Seams:
    values = {"hw.memsize": str(memsize), "iogpu.wired_limit_mb": wired_limit_mb}
    return Seams(
        nvml=lambda: None,
        sysctl=values.get,
        apple_silicon=lambda: True,
        virtual_memory=lambda: SimpleNamespace(total=memsize, available=available),
        cpu_name=lambda: "Apple M4 Pro",
    )


def test_rtx_4060_ti_budget_is_free_minus_ollamas_reserve():
    nvml = FakeNVML([("NVIDIA GeForce RTX 4060 Ti", 16 * GiB, 600 * MiB)])
    host = probe_host(HostConfig(), seams=Seams(nvml=lambda: nvml, apple_silicon=lambda: False))
    (gpu,) = host.devices
    assert (gpu.kind, gpu.name, gpu.total, gpu.used, gpu.free) == (
        "nvidia", "NVIDIA GeForce RTX 4060 Ti", 16 * GiB, 600 * MiB, 16 * GiB - 600 * MiB)
    assert NVIDIA_RESERVE == 457 * MiB
    assert gpu.budget == 16 * GiB - 600 * MiB - 457 * MiB
    assert "NVML" in gpu.sources["free"] and nvml.shut_down


def test_two_gpus_each_get_a_budget_and_a_configured_reserve_applies():
    nvml = FakeNVML([("RTX 4060 Ti", 16 * GiB, 0), ("RTX 3060", 12 * GiB, 2 * GiB)])
    host = probe_host(HostConfig(reserve=1 * GiB), seams=Seams(nvml=lambda: nvml))
    assert [d.budget for d in host.devices] == [15 * GiB, 9 * GiB]
    assert host.budget == 24 * GiB


def test_m4_pro_24gb_default_gpu_share():
    # 24 GiB is under 36 GiB, so macOS lets the GPU wire two thirds: 16 GiB.
    host = probe_host(HostConfig(), seams=apple_seams(24 * GiB, available=20 * GiB))
    (dev,) = host.devices
    assert dev.kind == "apple" and dev.total == 24 * GiB
    assert dev.budget == 16 * GiB - APPLE_RESERVE == 16 * GiB - 512 * MiB
    assert "67% of RAM" in dev.sources["gpu_usable"]


def test_m4_pro_available_memory_caps_the_budget():
    host = probe_host(HostConfig(), seams=apple_seams(24 * GiB, available=10 * GiB))
    assert host.devices[0].budget == 10 * GiB - 512 * MiB


def test_m4_pro_wired_limit_wins_when_set():
    host = probe_host(HostConfig(), seams=apple_seams(24 * GiB, 22 * GiB, wired_limit_mb="20480"))
    assert host.devices[0].budget == 20 * GiB - 512 * MiB
    assert "iogpu.wired_limit_mb = 20480" in host.devices[0].sources["gpu_usable"]


def test_big_mac_gets_three_quarters():
    host = probe_host(HostConfig(), seams=apple_seams(64 * GiB, available=60 * GiB))
    assert host.devices[0].budget == 48 * GiB - 512 * MiB


def test_memory_budget_overrides_the_probe_and_says_so():
    nvml = FakeNVML([("RTX 4060 Ti", 16 * GiB, 0)])
    host = probe_host(HostConfig(memory_budget=12 * GiB), seams=Seams(nvml=lambda: nvml))
    assert host.override and host.budget == 12 * GiB
    assert "config hosts[0].memory_budget" in host.devices[0].sources["budget"]


def test_reserve_larger_than_the_gpu_is_an_error():
    nvml = FakeNVML([("RTX 4060 Ti", 16 * GiB, 0)])
    with pytest.raises(
        ConfigError, match=r"hosts\[0\].reserve: 20.0GiB is not less than the GPU 0"
    ):
        probe_host(HostConfig(reserve=20 * GiB), seams=Seams(nvml=lambda: nvml))


def test_cpu_probe_for_real():
    host = probe_host(HostConfig())
    (dev,) = host.devices
    vm = psutil.virtual_memory()
    assert dev.kind == "cpu"
    assert 0 < dev.budget < dev.free <= dev.total == vm.total


def test_tierd_hosts_json_on_this_machine():
    result = run_tierd("hosts", "--json")
    assert result.returncode == 0, result.stderr
    (host,) = json.loads(result.stdout)
    (dev,) = host["devices"]
    assert host["host"] == "local" and dev["kind"] == "cpu"
    assert 0 < dev["budget"] < dev["free"]
    assert dev["sources"]["budget"].startswith("available minus default reserve")


def test_tierd_hosts_table_and_help():
    table = run_tierd("hosts")
    assert table.returncode == 0 and "BUDGET" in table.stdout and "cpu:0" in table.stdout
    for verb in (["hosts"], ["config"], ["config", "check"], ["config", "show"]):
        assert run_tierd(*verb, "--help").returncode == 0


def test_cli_usage_errors_exit_1_without_traceback():
    result = run_tierd("hosts", "--bogus")
    assert result.returncode == 1 and "unrecognized arguments: --bogus" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_cuda_box_has_its_ram_as_a_second_budget_and_ram_budget_overrides_it():
    nvml = FakeNVML([("RTX 4060 Ti", 16 * GiB, 0)])
    ram = SimpleNamespace(total=64 * GiB, available=60 * GiB)
    seams = Seams(nvml=lambda: nvml, apple_silicon=lambda: False, virtual_memory=lambda: ram)
    host = probe_host(HostConfig(), seams=seams)
    assert host.budget == 16 * GiB - NVIDIA_RESERVE  # the GPU's, as before
    assert host.ram.kind == "cpu" and host.ram_budget == 59 * GiB
    capped = probe_host(HostConfig(ram_budget=32 * GiB, memory_budget=12 * GiB), seams=seams)
    assert (capped.budget, capped.ram_budget) == (12 * GiB, 32 * GiB)
    assert "config hosts[0].ram_budget" in capped.ram.sources["budget"]
    with pytest.raises(ConfigError, match=r"ram_budget: 80.0GiB is more than the RAM"):
        probe_host(HostConfig(ram_budget=80 * GiB), seams=seams)


def test_ram_budget_on_a_host_with_one_pool_says_to_use_memory_budget():
    with pytest.raises(ConfigError, match=r"hosts\[0\].ram_budget: .* set memory_budget instead"):
        probe_host(HostConfig(ram_budget=8 * GiB))
