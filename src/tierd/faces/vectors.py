"""Embedding vectors as the APIs hand them out."""

from __future__ import annotations

import base64
import math
import struct


def normalised(vector: list[float]) -> list[float]:
    """Unit length, as OpenAI's embeddings and Ollama's /api/embed return them."""
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else list(vector)


def shortened(vector: list[float], dimensions: int | None) -> list[float]:
    """The first `dimensions` of a vector at unit length (a Matryoshka model's shorter
    embedding, as OpenAI shortens text-embedding-3's), or the whole vector at unit length."""
    return normalised(vector[:dimensions] if dimensions else vector)


def encoded(vector: list[float], encoding_format: str) -> list[float] | str:
    """OpenAI's `encoding_format`: a JSON list, or base64 of little-endian float32 (what the
    official Python client asks for by default)."""
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return vector
