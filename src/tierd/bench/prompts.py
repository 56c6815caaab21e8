"""Prompts of an exact token count, different for every request.

Each request gets its own words (seeded by the request's number) because llama.cpp and Ollama
reuse the cached prefix of the previous prompt: sending the same prompt twice would measure a
prefill of almost nothing. The length is fitted with the model's own tokenizer, chat template
included, so "512 prompt tokens" means what the model really reads.
"""

from __future__ import annotations

import random
from typing import Callable

from tierd.bench.settings import BenchError

WORDS = (
    "river stone garden window letter market engine summer winter forest harbor signal "
    "copper silver morning evening paper candle bridge valley meadow thunder lantern "
    "kitchen library orchard island mountain compass anchor ladder basket feather "
    "pocket ribbon saddle shadow pepper marble timber velvet canvas mirror needle "
    "planet rocket violin trumpet castle tunnel village yellow purple orange gentle "
    "quiet rapid distant golden hollow narrow simple steady bright frozen ancient "
    "careful curious patient honest clever humble silent modern rustic wooden "
    "walks builds carries follows gathers watches paints writes opens crosses "
    "answers counts listens travels remembers measures borrows explains repairs"
).split()

TokenCounter = Callable[[list[dict]], int]


def random_words(count: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(count))


def chat_prompt(words: str) -> list[dict]:
    return [{"role": "user", "content": f"Continue this list of words: {words}"}]


def fit_prompt(count_tokens: TokenCounter, target_tokens: int, seed: int) -> tuple[list[dict], int]:
    """The longest prompt of seeded words that is at most `target_tokens` tokens.

    Returns the messages and their real token count, which may fall a token or two short of
    the target where one more word would overshoot it.
    """
    floor = count_tokens(chat_prompt(""))
    if floor > target_tokens:
        raise BenchError(
            f"--prompt-tokens: {target_tokens} is fewer than the {floor} tokens the chat "
            f"template and instruction alone take; ask for at least {floor}"
        )
    words = random_words(target_tokens, seed).split()
    low, high = 0, len(words)
    # Tokens grow with words; find the most words that still fit.
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens(chat_prompt(" ".join(words[:middle]))) <= target_tokens:
            low = middle
        else:
            high = middle - 1
    messages = chat_prompt(" ".join(words[:low]))
    return messages, count_tokens(messages)


def embedding_texts(count: int, words_per_text: int, seed: int) -> list[str]:
    return [random_words(words_per_text, seed * 100_003 + i) for i in range(count)]
