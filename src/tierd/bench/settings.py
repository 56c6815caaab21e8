"""What a benchmark measures, checked before anything is loaded.

A bad count or a concurrency list that does not parse must fail at once with the flag's name,
not after a model has been unloaded and reloaded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from tierd.errors import TierdError


class BenchError(TierdError):
    """A benchmark cannot run as asked (bad settings, a model of the wrong kind)."""


DEFAULT_BATCH_SIZES = (1, 8, 32, 128)


@dataclass(frozen=True)
class GenerationSettings:
    prompt_tokens: int = 512
    gen_tokens: int = 128
    concurrency: tuple[int, ...] = (1,)
    runs: int = 5
    """Measured rounds per concurrency level; a round sends `concurrency` requests at once."""
    warmup: int = 1
    """Rounds per concurrency level sent first and left out of every figure."""

    def __post_init__(self) -> None:
        _at_least("--prompt-tokens", self.prompt_tokens, 1)
        _at_least("--gen-tokens", self.gen_tokens, 1)
        _at_least("--runs", self.runs, 1)
        _at_least("--warmup", self.warmup, 0)
        if not self.concurrency:
            raise BenchError("--concurrency: give at least one level, e.g. 1,2,4")
        for level in self.concurrency:
            _at_least("--concurrency", level, 1)

    def as_dict(self) -> dict:
        return {"kind": "generation", **_json_ready(asdict(self))}


@dataclass(frozen=True)
class EmbeddingSettings:
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    text_words: int = 48
    """Words per text (about 60 tokens: a short paragraph, like a chunk of a README)."""
    runs: int = 5
    warmup: int = 1

    def __post_init__(self) -> None:
        _at_least("--runs", self.runs, 1)
        _at_least("--warmup", self.warmup, 0)
        _at_least("text words", self.text_words, 1)
        if not self.batch_sizes:
            raise BenchError("--batch-sizes: give at least one size, e.g. 1,8,32")
        for size in self.batch_sizes:
            _at_least("--batch-sizes", size, 1)

    def as_dict(self) -> dict:
        return {"kind": "embedding", **_json_ready(asdict(self))}


def _json_ready(settings: dict) -> dict:
    """Tuples as lists, so a run compares equal to itself after a trip through the database."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}


def _at_least(flag: str, value: int, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BenchError(f"{flag}: {value!r} is not a whole number")
    if value < least:
        what = "positive" if least == 1 else f"at least {least}"
        raise BenchError(f"{flag}: {value} is not allowed (it must be {what})")


def parse_levels(text: str, flag: str = "--concurrency") -> tuple[int, ...]:
    """'1,2,4' -> (1, 2, 4): sorted, without repeats; BenchError on anything else."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise BenchError(f"{flag}: {text!r} is not a comma-separated list of numbers (e.g. 1,2,4)")
    levels = []
    for part in parts:
        try:
            level = int(part)
        except ValueError:
            raise BenchError(
                f"{flag}: {part!r} in {text!r} is not a whole number (e.g. 1,2,4)"
            ) from None
        _at_least(flag, level, 1)
        levels.append(level)
    return tuple(sorted(set(levels)))
