"""Request bodies of the OpenAI and Ollama APIs, as much of them as tierd honours.

Unknown fields are ignored (clients send many), wrong types and out-of-range values are 400s;
each top-level body is a `RequestBody` (tierd.api.limits), which refuses text that is not
Unicode.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tierd.api.limits import MAX_REPLY_TOKENS, RequestBody


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(_Lenient):
    type: Literal["text"]
    text: str


class ChatMessage(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(_Lenient):
    include_usage: bool = False


class ChatCompletionRequest(RequestBody):
    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_REPLY_TOKENS)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_REPLY_TOKENS)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    n: int = Field(default=1, ge=1, le=1, description="tierd returns one choice")


class EmbeddingRequest(RequestBody):
    model: str = Field(min_length=1)
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] = "float"


class OllamaOptions(_Lenient):
    num_predict: int | None = Field(default=None, ge=-2, le=MAX_REPLY_TOKENS,
                                    description="-1 or -2: as long as the context allows")
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None
    stop: list[str] | None = None
    num_ctx: int | None = Field(default=None, ge=1)


KeepAlive = str | int | float | None


class OllamaGenerateRequest(RequestBody):
    model: str = Field(min_length=1)
    prompt: str = ""
    system: str | None = None
    raw: bool = False
    stream: bool = True
    options: OllamaOptions | None = None
    keep_alive: KeepAlive = None


class OllamaChatMessage(_Lenient):
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""


class OllamaChatRequest(RequestBody):
    model: str = Field(min_length=1)
    messages: list[OllamaChatMessage] = Field(default_factory=list)
    stream: bool = True
    options: OllamaOptions | None = None
    keep_alive: KeepAlive = None


class OllamaEmbedRequest(RequestBody):
    model: str = Field(min_length=1)
    input: str | list[str] = Field(default_factory=list, description="empty: load the model")
    truncate: bool = True
    options: OllamaOptions | None = None
    keep_alive: KeepAlive = None


class OllamaEmbeddingsRequest(RequestBody):
    model: str = Field(min_length=1)
    prompt: str


class OllamaPullRequest(RequestBody):
    model: str | None = None
    name: str | None = None
    stream: bool = True
    insecure: bool = False
    host: str | None = Field(default=None, description="tierd: the host to pull onto "
                                                        "(default: the first that can)")

    def model_name(self) -> str:
        return self.model or self.name or ""


class OllamaShowRequest(RequestBody):
    model: str | None = None
    name: str | None = None

    def model_name(self) -> str:
        return self.model or self.name or ""


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
