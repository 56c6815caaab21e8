"""Where a model's bytes go: how many of its layers sit on the accelerator, and what that puts
in accelerator memory and in system RAM.

llama.cpp offloads a model layer by layer (`n_gpu_layers`): its repeating blocks, then the
output layer, so a model of N blocks has N + 1 layers to place. A block on the GPU keeps its
weights and its slice of the KV cache there; a block on the CPU keeps both in RAM. Any
offload needs the compute buffer on the GPU, and a partial one needs one on the CPU as well.
The rule, as Ollama's scheduler applies it: every layer on the accelerator when the model
fits there, else as many as fit, else none.

The split is an estimate from the same metadata as the total (the weights spread evenly over
the layers); once a model has been loaded, the bytes the runtime measured win (see
`scaled_to`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tierd.models.estimate import Estimate
from tierd.runtimes.base import ModelInfo

Where = Literal["gpu", "partial", "cpu"]


@dataclass(frozen=True)
class Placement:
    gpu_layers: int
    """Layers on the accelerator; 0 runs the model on the CPU."""
    layers: int
    """Layers the model has to place (blocks + output); 0 when its metadata does not say."""
    gpu_bytes: int
    ram_bytes: int

    @property
    def total(self) -> int:
        return self.gpu_bytes + self.ram_bytes

    @property
    def where(self) -> Where:
        if self.gpu_layers <= 0:
            return "cpu"
        return "gpu" if self.layers == 0 or self.gpu_layers >= self.layers else "partial"

    def scaled_to(self, measured_total: int, estimated_total: int) -> Placement:
        """This split, resized so its total is what a load at the same settings measured."""
        if estimated_total <= 0 or self.total == 0:
            return self
        gpu = self.gpu_bytes * measured_total // estimated_total
        ram = measured_total * self.total // estimated_total - gpu
        return Placement(self.gpu_layers, self.layers, gpu, max(0, ram))


def layer_count(info: ModelInfo) -> int:
    """Blocks plus the output layer, as llama.cpp counts n_gpu_layers; 0 when unknown."""
    blocks = int(info.metadata.get("block_count") or 0)
    return blocks + 1 if blocks > 0 else 0


def on_cpu(estimate: Estimate, layers: int) -> Placement:
    return Placement(0, layers, 0, estimate.total)


def split(estimate: Estimate, layers: int, gpu_layers: int) -> Placement:
    """The bytes on each side with `gpu_layers` of `layers` on the accelerator."""
    if gpu_layers <= 0:
        return on_cpu(estimate, layers)
    if layers <= 0:  # no layer facts: all or nothing
        return Placement(gpu_layers, 0, estimate.total, 0)
    gpu_layers = min(gpu_layers, layers)
    blocks = layers - 1
    weights_gpu = estimate.weights * gpu_layers // layers
    kv_gpu = estimate.kv * min(gpu_layers, blocks) // blocks if blocks else estimate.kv
    full = gpu_layers == layers
    return Placement(
        gpu_layers=gpu_layers,
        layers=layers,
        gpu_bytes=weights_gpu + kv_gpu + estimate.overhead,
        ram_bytes=(estimate.weights - weights_gpu) + (estimate.kv - kv_gpu)
        + (0 if full else estimate.overhead),
    )


def choose(estimate: Estimate, layers: int, gpu_room: int, ram_room: int) -> Placement:
    """All layers on the accelerator when they fit in `gpu_room`; else the most that fit with
    the rest in `ram_room`; else none (the caller finds out whether RAM holds it all)."""
    top = layers if layers > 0 else 1
    for gpu_layers in range(top, 0, -1):
        placed = split(estimate, layers, gpu_layers)
        if placed.gpu_bytes <= gpu_room and placed.ram_bytes <= ram_room:
            return placed
    return on_cpu(estimate, layers)
