"""The hardware's limit on decode speed.

Generating one token reads every weight once, so decode tokens/s can be at most
memory bandwidth ÷ bytes read per token (≈ the model's weight bytes). Knowing the bound turns
"12 tokens/s" into "85 % of what this box can ever do", which says whether to tune or to buy.

Bandwidths are the vendors' published peak figures in GB/s (10^9 bytes/s). A CPU's bandwidth
depends on its memory channels and DIMMs, not on its name, so CPUs are unknown unless the
config says otherwise: a guessed bound would make the percentage untrustworthy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GB = 1000**3

# Keys are lowercase tokens that must all appear in the device name; the key matching the most
# tokens wins, so "Apple M4 Pro" finds "m4 pro" and not "m4", and "RTX 4060 Ti" not "4060".
KNOWN_BANDWIDTH_GBPS: dict[str, float] = {
    "apple m1": 68, "apple m1 pro": 200, "apple m1 max": 400,
    "apple m2": 100, "apple m2 pro": 200, "apple m2 max": 400,
    "apple m3": 100, "apple m3 pro": 150, "apple m3 max": 400,
    "apple m4": 120, "apple m4 pro": 273, "apple m4 max": 546,
    "rtx 3060": 360, "rtx 3090": 936,
    "rtx 4060": 272, "rtx 4060 ti": 288, "rtx 4070": 504, "rtx 4090": 1008,
    # NVML names the A100 80GB "NVIDIA A100-SXM4-80GB" or "NVIDIA A100 80GB PCIe".
    "a100 80gb": 2039,
    # NVML names the SXM H100 "NVIDIA H100 80GB HBM3"; the PCIe card has a third less.
    "h100 sxm": 3350, "h100 hbm3": 3350,
    "h200": 4800,
}


@dataclass(frozen=True)
class Bandwidth:
    gb_per_s: float
    source: str
    """Why we believe the figure: the table entry matched, or the config override."""


@dataclass(frozen=True)
class DecodeBound:
    tokens_per_s: float
    bandwidth: Bandwidth
    bytes_per_token: int

    def percent_of(self, measured_tokens_per_s: float) -> float:
        return 100.0 * measured_tokens_per_s / self.tokens_per_s


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def lookup_bandwidth(device_name: str, override_gbps: float | None = None) -> Bandwidth | None:
    """The device's memory bandwidth: the override if given, else the table, else None."""
    if override_gbps is not None:
        if override_gbps <= 0:
            raise ValueError(f"memory bandwidth must be more than 0 GB/s, not {override_gbps}")
        return Bandwidth(float(override_gbps), "config override")
    name_tokens = set(_tokens(device_name))
    matches = [key for key in KNOWN_BANDWIDTH_GBPS if set(_tokens(key)) <= name_tokens]
    if not matches:
        return None
    best = max(matches, key=lambda key: len(_tokens(key)))
    return Bandwidth(KNOWN_BANDWIDTH_GBPS[best], f"table: {best!r} (published peak)")


def decode_bound(bandwidth: Bandwidth | None, bytes_per_token: int) -> DecodeBound | None:
    """Bandwidth ÷ bytes per token, or None when either is unknown."""
    if bandwidth is None or bytes_per_token <= 0:
        return None
    return DecodeBound(bandwidth.gb_per_s * GB / bytes_per_token, bandwidth, bytes_per_token)
