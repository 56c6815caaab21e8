"""JSON on the hot paths: orjson, with the standard library behind it for what orjson refuses.

Every cloud call encodes its body for the provider and decodes each event of the reply, and
every answer is encoded again for the client; orjson does each several times faster than the
`json` module. What orjson refuses and `json` takes — a lone surrogate in a string (escaped as
`\\udXXX`), an integer past 64 bits, NaN or Infinity in what a provider sent — goes through
`json`, so nothing that parsed or encoded before fails now.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: surrogates, huge integers, odd keys
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def loads(data: str | bytes) -> Any:
    """Parse JSON text; ValueError when it is not JSON, or is nested deeper than either parser
    goes (`json` would raise RecursionError, which no caller takes for bad input)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            return json.loads(data)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
