"""GPU offload and the two budgets of a CUDA box, through the probe's seams: a faked RTX 4060 Ti
(16 GiB, by a fake NVML) beside 64 GiB of RAM, and a faked CUDA build of llama.cpp. A model that
fits goes wholly to the GPU, one that does not is split by layers, a CPU-only build keeps all in
RAM, and every byte counts against the budget of the memory it sits in."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import make_state_dir
from tests.sim_runtime import SimRuntime, sim_model
from tests.test_hosts import FakeNVML
from tierd.app import build_runtime, host_slot
from tierd.config import Config, HostConfig
from tierd.errors import CapacityExhausted
from tierd.hosts.probe import NVIDIA_RESERVE, HostMemory, probe_host
from tierd.hosts.seams import Seams
from tierd.models.manager import ModelManager, ModelSettings
from tierd.runtimes import embedded
from tierd.runtimes.base import ParallelSetting
from tierd.runtimes.embedded import EmbeddedRuntime, _footprint

GiB = 1024**3
MiB = 1024**2
RAM = 64 * GiB


def cuda_box(gpu_used: int = 0, ram_available: int = 60 * GiB,
             processes: dict[int, int] | None = None) -> tuple[Seams, HostMemory]:
    nvml = FakeNVML([("NVIDIA GeForce RTX 4060 Ti", 16 * GiB, gpu_used)], processes)
    seams = Seams(nvml=lambda: nvml, apple_silicon=lambda: False,
                  virtual_memory=lambda: SimpleNamespace(total=RAM, available=ram_available),
                  cpu_name=lambda: "x86_64")
    return seams, probe_host(HostConfig(name="box"), seams=seams)


def qwen_like(name: str, file_bytes: int, blocks: int):
    """A Qwen-2.5-shaped model: 8 KV heads of 128, 5120 wide."""
    return sim_model(name, file_bytes, context_length=32768, metadata={
        "block_count": blocks, "head_count": 40, "head_count_kv": 8, "embedding_length": 5120})


def manager_on(memory: HostMemory, runtime, settings=None) -> ModelManager:
    return ModelManager({"box": host_slot(runtime, memory, ParallelSetting(1, "test"),
                                          settings or {})})


def row(manager: ModelManager, name: str) -> dict:
    return next(m for m in manager.snapshot()["box"]["models"] if m["name"] == name)


MODELS = [qwen_like("qwen-14b", 9 * GiB, 48), qwen_like("qwen-32b", 19 * GiB, 64)]


def test_the_probe_gives_a_cuda_box_two_budgets():
    _, memory = cuda_box(gpu_used=600 * MiB)
    assert memory.budget == 16 * GiB - 600 * MiB - NVIDIA_RESERVE
    assert memory.ram is not None and memory.ram_budget == 60 * GiB - 1 * GiB
    slot = host_slot(SimRuntime("box", [], 0), memory, ParallelSetting(1, "test"), {})
    assert slot.budgets == {"gpu": memory.budget, "ram": 59 * GiB}


def test_a_model_that_fits_goes_wholly_to_the_gpu_and_counts_there():
    _, memory = cuda_box()
    runtime = SimRuntime("box", MODELS, memory.ram_budget, offload="layers",
                         gpu_capacity=memory.budget)
    manager = manager_on(memory, runtime)
    manager.load("qwen-14b")
    assert runtime.gpu_layers_asked["qwen-14b"] == -1  # all of them
    placed = row(manager, "qwen-14b")
    assert placed["where"] == "gpu" and placed["gpu_layers"] == placed["layers"] == 49
    assert placed["gpu_bytes"] == placed["bytes"] > 9 * GiB and placed["ram_bytes"] == 0
    pools = manager.snapshot()["box"]["pools"]
    assert pools["gpu"]["used"] == placed["bytes"] and pools["ram"]["used"] == 0
    assert runtime.violations == []


def test_a_model_that_does_not_fit_is_split_by_layers_across_gpu_and_ram():
    _, memory = cuda_box()
    runtime = SimRuntime("box", MODELS, memory.ram_budget, offload="layers",
                         gpu_capacity=memory.budget)
    manager = manager_on(memory, runtime)
    manager.load("qwen-32b")
    asked = runtime.gpu_layers_asked["qwen-32b"]
    assert 0 < asked < 65
    placed = row(manager, "qwen-32b")
    assert placed["where"] == "partial" and placed["gpu_layers"] == asked
    pools = manager.snapshot()["box"]["pools"]
    # The GPU is filled as far as whole layers go; the rest sits in RAM.
    assert 0.9 * memory.budget < pools["gpu"]["used"] <= memory.budget
    assert pools["ram"]["used"] == placed["ram_bytes"] > 4 * GiB
    assert pools["gpu"]["used"] + pools["ram"]["used"] == placed["bytes"]
    assert runtime.violations == []


def test_pinned_gpu_models_leave_fewer_layers_for_the_next_and_stay():
    _, memory = cuda_box()
    runtime = SimRuntime("box", MODELS, memory.ram_budget, offload="layers",
                         gpu_capacity=memory.budget)
    manager = manager_on(memory, runtime, {"qwen-14b": ModelSettings(pinned=True)})
    manager.load("qwen-32b")
    alone = runtime.gpu_layers_asked["qwen-32b"]
    manager.unload("qwen-32b")
    manager.load("qwen-14b")
    manager.load("qwen-32b")
    assert 0 <= runtime.gpu_layers_asked["qwen-32b"] < alone
    assert {m["name"] for m in manager.snapshot()["box"]["models"]} == {"qwen-14b", "qwen-32b"}
    assert manager.snapshot()["box"]["pools"]["gpu"]["used"] <= memory.budget
    assert runtime.violations == []


def test_a_cpu_only_build_on_a_cuda_box_counts_everything_against_ram():
    _, memory = cuda_box()
    runtime = SimRuntime("box", MODELS, memory.ram_budget, offload="none")
    manager = manager_on(memory, runtime)
    manager.load("qwen-32b")
    assert runtime.gpu_layers_asked["qwen-32b"] == 0
    placed = row(manager, "qwen-32b")
    assert placed["where"] == "cpu" and placed["gpu_bytes"] == 0
    pools = manager.snapshot()["box"]["pools"]
    assert pools["gpu"]["used"] == 0 and pools["ram"]["used"] == placed["bytes"] > 19 * GiB


def test_a_model_too_big_for_both_budgets_names_both():
    _, memory = cuda_box(ram_available=4 * GiB)  # 3 GiB of RAM + 15.5 GiB of GPU < 20 GiB
    runtime = SimRuntime("box", MODELS, memory.ram_budget, offload="layers",
                         gpu_capacity=memory.budget)
    with pytest.raises(CapacityExhausted) as err:
        manager_on(memory, runtime).load("qwen-32b")
    message = str(err.value)
    assert "GPU memory" in message and "RAM" in message and "whole budget" in message


# -- the real embedded runtime, on a faked CUDA build ------------------------------------------

GEMMA, MINILM = "packaged:gemma3-270m", "packaged:all-minilm"


def test_the_embedded_runtime_asks_llama_cpp_for_the_layers_it_is_told(packaged_models_dir):
    runtime = EmbeddedRuntime("box", packaged_models_dir, gpu_offload=True)
    assert runtime.offload == "layers"
    full = runtime.load(GEMMA, 512, gpu_layers=-1)
    layers = runtime.metadata(GEMMA).block_count + 1
    assert (full.gpu_layers, full.layers, full.slots) == (layers, layers, 1)
    # llama-cpp-python passes -1 ("all") on to llama.cpp as INT32_MAX.
    assert runtime._resident(GEMMA).llm.model_params.n_gpu_layers == 2**31 - 1
    part = runtime.load(GEMMA, 512, gpu_layers=5)  # another placement: loaded again
    assert part.gpu_layers == 5
    assert runtime._resident(GEMMA).llm.model_params.n_gpu_layers == 5
    runtime.unload(GEMMA)


def test_this_cpu_build_offloads_nothing_whatever_it_is_told(packaged_models_dir):
    runtime = EmbeddedRuntime("box", packaged_models_dir)
    assert runtime.offload == "none"  # llama_supports_gpu_offload() is False here
    loaded = runtime.load(MINILM, 512, gpu_layers=-1)
    assert loaded.gpu_layers == 0 and loaded.gpu_bytes == 0
    runtime.unload(MINILM)


def test_nvml_per_process_memory_is_the_gpu_footprint_where_nvml_sees_us(
        tmp_path, packaged_models_dir, monkeypatch):
    pid = os.getpid()
    seams, memory = cuda_box(processes={pid: 300 * MiB})
    nvml = seams.nvml()
    state = make_state_dir(tmp_path, packaged_models_dir)
    runtime = build_runtime(HostConfig(name="box"), Config(state_dir=str(state)), memory, seams)
    runtime.offload = "layers"  # play the CUDA build

    class AllocatingLlama(embedded.Llama):
        """llama.cpp as a CUDA build would be seen by NVML: the load takes 123 MiB of GPU."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            nvml.processes[pid] += 123 * MiB

    monkeypatch.setattr(embedded, "Llama", AllocatingLlama)
    loaded = runtime.load(MINILM, 512, gpu_layers=-1)
    footprint = runtime.footprint(MINILM)
    assert footprint.gpu_measured == loaded.gpu_bytes == 123 * MiB
    assert loaded.bytes == footprint.total - footprint.gpu + 123 * MiB
    runtime.unload(MINILM)


def test_llama_cpp_buffers_say_what_sits_on_the_gpu_where_nvml_cannot():
    lines = [
        "load_tensors: offloaded 49/49 layers to GPU",
        "load_tensors:        CUDA0 model buffer size =  8148.38 MiB",
        "load_tensors:   CPU_Mapped model buffer size =   417.66 MiB",
        "llama_kv_cache:      CUDA0 KV buffer size =   768.00 MiB",
        "llama_context:      CUDA0 compute buffer size =   307.00 MiB",
        "llama_context:  CUDA_Host compute buffer size =    18.01 MiB",
        "llama_context:  CUDA_Host  output buffer size =     0.58 MiB",
    ]
    footprint = _footprint(None, lines)  # type: ignore[arg-type]
    assert footprint.gpu == round(8148.38 * MiB) + 768 * MiB + 307 * MiB
    assert footprint.total == footprint.gpu + round(417.66 * MiB) + round(18.01 * MiB) \
        + round(0.58 * MiB)
    assert footprint.gpu_measured is None and footprint.accelerator == footprint.gpu


def test_the_manager_places_a_real_gguf_on_a_nearly_full_gpu(packaged_models_dir: Path):
    """Another process holds all but ~120 MiB of the card: MiniLM fits whole, Gemma splits."""
    seams, memory = cuda_box(gpu_used=16 * GiB - NVIDIA_RESERVE - 120 * MiB)
    runtime = EmbeddedRuntime("box", packaged_models_dir, gpu_offload=True)
    manager = manager_on(memory, runtime, {
        GEMMA: ModelSettings(context_length=1024), MINILM: ModelSettings(context_length=512)})
    manager.load(MINILM)
    assert row(manager, MINILM)["where"] == "gpu"
    manager.unload(MINILM)
    manager.load(GEMMA)
    gemma = row(manager, GEMMA)
    assert gemma["where"] == "partial" and 0 < gemma["gpu_layers"] < gemma["layers"]
    assert runtime._resident(GEMMA).llm.model_params.n_gpu_layers == gemma["gpu_layers"]
    manager.unload(GEMMA)
