"""OpenAI's legacy text completions (`/v1/completions`), translated to and from tierd's
options and reply events — for tierd's OpenAI face.

A completion continues its prompt as raw text (no chat template), so it needs an exact local
model (the router says so otherwise). `prompt` may be a list of texts: each is completed on its
own and is one choice, at its index. Token-id prompts are refused with a 400: the clients of
this API send text (token ids are read only as embedding inputs, where tiktoken-based clients
send them: tierd.faces.token_ids).

- `prompts_from_completion`: the prompts and options of a request body;
- `completion_body`: a whole `text_completion`;
- `StreamWriter`: its stream.
"""

from __future__ import annotations

from typing import Any

from tierd.chat.openai import finish_reason
from tierd.chat.reply import Reply
from tierd.chat.request import BadField
from tierd.runtimes.base import Chunk, GenerateOptions, Timings

REFUSED = {
    "suffix": "inserting between a prompt and a suffix is not supported by tierd",
    "logprobs": "token log-probabilities are not returned by tierd",
    "logit_bias": "logit_bias is not supported by tierd",
    "frequency_penalty": "repetition penalties are not supported by tierd",
    "presence_penalty": "repetition penalties are not supported by tierd",
}
"""Fields that change an answer and that tierd cannot honour: set, each is a 400."""
NEUTRAL = (None, False, 0, [], {}, "")
DEFAULT_MAX_TOKENS = 16
"""OpenAI's default completion length, kept: clients written for it expect it."""


def prompts_from_completion(body: dict) -> tuple[list[str], GenerateOptions]:
    """The prompts to complete and the options for each; BadField names what is wrong."""
    for name, why in REFUSED.items():
        if body.get(name) not in NEUTRAL:
            raise BadField(name, why)
    prompt: Any = body.get("prompt")
    # One text, or one array of token ids, is one prompt named "prompt"; a list names each.
    single = isinstance(prompt, str) or (
        isinstance(prompt, list) and bool(prompt) and all(isinstance(t, int) for t in prompt))
    prompts = [prompt] if single else list(prompt or [])
    if not prompts:
        raise BadField("prompt", "is empty: give the text to complete")
    for i, text in enumerate(prompts):
        where = "prompt" if single else f"prompt[{i}]"
        if not isinstance(text, str):
            raise BadField(where, "token ids are not supported in a completion: send the text "
                                  "(tierd tokenizes it with the model's own tokenizer)")
        if not text:
            raise BadField(where, "is empty: give the text to complete")
    stop = body.get("stop")
    limit = body.get("max_tokens", DEFAULT_MAX_TOKENS)
    return prompts, GenerateOptions(
        max_tokens=limit, temperature=body.get("temperature"), top_p=body.get("top_p"),
        seed=body.get("seed"), stop=tuple([stop] if isinstance(stop, str) else (stop or ())))


def usage(timings: list[Timings | None]) -> dict:
    prompt = sum(t.prompt_eval_count for t in timings if t)
    completion = sum(t.eval_count for t in timings if t)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def completion_body(replies: list[Reply], prompts: list[str], *, completion_id: str,
                    created: int, model: str, echo: bool = False) -> dict:
    """A whole `text_completion`: one choice per prompt, at its index."""
    choices = [{"text": (prompt if echo else "") + reply.text, "index": i, "logprobs": None,
                "finish_reason": finish_reason(reply.finish_reason)}
               for i, (prompt, reply) in enumerate(zip(prompts, replies))]
    return {"id": completion_id, "object": "text_completion", "created": created,
            "model": model, "choices": choices,
            "usage": usage([reply.timings for reply in replies])}


class StreamWriter:
    """`text_completion` chunks: each prompt's text as it comes (`index` saying whose), its
    finish reason, and the usage of them all at the end when asked for."""

    def __init__(self, *, completion_id: str, created: int, model: str,
                 include_usage: bool = False):
        self.base = {"id": completion_id, "object": "text_completion", "created": created,
                     "model": model}
        self.include_usage = include_usage
        self.timings: list[Timings | None] = []

    def _event(self, index: int, text: str, finish: str | None = None) -> dict:
        return {**self.base, "choices": [{"text": text, "index": index, "logprobs": None,
                                          "finish_reason": finish}]}

    def echo(self, index: int, prompt: str) -> list[dict]:
        return [self._event(index, prompt)]

    def write(self, index: int, chunk: Chunk) -> list[dict]:
        events = [self._event(index, chunk.text)] if chunk.text else []
        if chunk.done:
            self.timings.append(chunk.timings)
            events.append(self._event(index, "", finish_reason(chunk.finish_reason)))
        return events

    def end(self) -> list[dict]:
        return [{**self.base, "choices": [], "usage": usage(self.timings)}] \
            if self.include_usage else []
