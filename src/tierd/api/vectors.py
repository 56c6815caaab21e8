"""Embedding vectors as the APIs hand them out."""

from __future__ import annotations

import math


def normalised(vector: list[float]) -> list[float]:
    """Unit length, as OpenAI's embeddings and Ollama's /api/embed return them."""
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else list(vector)
