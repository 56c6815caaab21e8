"""Byte sizes as people write them in config files ("16GiB", "9GB", "512MiB", 1073741824)."""

from __future__ import annotations

import re

_UNITS = {
    "b": 1,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([A-Za-z]+)?$")
_LOOSE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


def parse_size(value: object) -> int:
    """Return `value` in bytes, or raise ValueError with a message that suggests the fix."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size (try \"16GiB\")")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is negative (a size is 0 or more bytes)")
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a size (try \"16GiB\")")
    loose = _LOOSE.match(value)
    if loose and loose.group(1).startswith("-"):
        raise ValueError(f"{value!r} is negative (a size is 0 or more bytes)".replace("'", '"'))
    match = _SIZE.match(value)
    if match:
        number, unit = match.groups()
        factor = _UNITS.get((unit or "b").lower())
        if factor is not None:
            return int(float(number) * factor)
    raise ValueError(f"{value!r} is not a size (try {_suggest(value)!r})".replace("'", '"'))


def _suggest(value: str) -> str:
    loose = _LOOSE.match(value)
    if loose:
        number, unit = loose.groups()
        unit = unit.lower()
        binary = {"k": "KiB", "m": "MiB", "g": "GiB", "t": "TiB"}
        return number + binary.get(unit[:1], "GiB") if unit else number
    return "16GiB"


def format_size(n: int) -> str:
    """Human form with binary units, e.g. 1.5GiB; exact bytes below 1 KiB."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)}B" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    raise AssertionError("unreachable")
