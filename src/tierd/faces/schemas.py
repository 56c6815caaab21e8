"""Request bodies of the OpenAI (chat, legacy completions, Responses, embeddings), Ollama and
Anthropic Messages APIs, as much of them as tierd honours.

These check types and ranges (a wrong type or an out-of-range value is a 400 naming the
field) and describe the bodies in the OpenAPI schema; what the fields mean is translated in
tierd.chat (one module per API shape), which also refuses the fields tierd cannot honour.
Other unknown fields are ignored (clients send many: `user`, `metadata`, ...). Each top-level
body is a `RequestBody` (tierd.api.limits), which refuses text that is not Unicode.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tierd.api.limits import MAX_REPLY_TOKENS, RequestBody


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ImageURL(_Lenient):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ContentPart(_Lenient):
    type: str = Field(description="text or image_url")
    text: str | None = None
    image_url: ImageURL | None = None
    refusal: str | None = None


class FunctionCall(_Lenient):
    name: str
    arguments: str = ""


class ToolCall(_Lenient):
    id: str = Field(min_length=1)
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None


class FunctionDefinition(_Lenient):
    name: str
    description: str | None = None
    parameters: Any = Field(default=None, description="a JSON schema of the arguments")
    strict: bool | None = None


class ToolDefinition(_Lenient):
    type: str = "function"
    function: FunctionDefinition


class NamedFunction(_Lenient):
    name: str


class NamedToolChoice(_Lenient):
    type: Literal["function"]
    function: NamedFunction


class JsonSchemaFormat(_Lenient):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: str = ""
    description: str | None = None
    schema_: Any = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Lenient):
    type: str = Field(description="text, json_object or json_schema")
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(_Lenient):
    include_usage: bool = False


class ChatCompletionRequest(RequestBody):
    # Unknown fields are kept, so the translation can refuse the ones that change an answer
    # (logprobs, functions, ...) by name.
    model_config = ConfigDict(extra="allow")

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
    tools: list[ToolDefinition] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None


TokenIds = list[int]


class EmbeddingRequest(RequestBody):
    model: str = Field(min_length=1)
    input: str | list[str] | TokenIds | list[TokenIds] = Field(
        min_length=1, description="text, texts, or cl100k_base token ids (one array or a list "
                                  "of arrays, as tiktoken-based clients send)")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1, description="shorten each vector to "
                                   "this many dimensions (models trained to be shortened)")


class CompletionRequest(RequestBody):
    """The legacy `/v1/completions` body; unknown fields are kept so the translation can
    refuse the ones that change an answer by name."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    prompt: str | list[str] | TokenIds | list[TokenIds] = Field(
        description="text, or texts (one choice each)")
    max_tokens: int | None = Field(default=16, ge=1, le=MAX_REPLY_TOKENS,
                                   description="OpenAI's default is 16")
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    echo: bool = False
    n: int = Field(default=1, ge=1, le=1, description="tierd returns one choice per prompt")
    best_of: int | None = Field(default=None, ge=1, le=1)


# ---- OpenAI Responses -------------------------------------------------------------------------

class ResponsesContentPart(_Lenient):
    type: str = Field(description="input_text, input_image, output_text or refusal")
    text: str | None = None
    image_url: str | None = None
    detail: Literal["auto", "low", "high"] | None = None
    refusal: str | None = None
    file_id: str | None = None


class ResponsesInputItem(_Lenient):
    """A message (`role` and `content`), a `function_call` the model made, or the
    `function_call_output` that answers it."""

    type: str | None = Field(default=None, description="message (the default), function_call "
                                                       "or function_call_output")
    role: Literal["user", "assistant", "system", "developer"] | None = None
    content: str | list[ResponsesContentPart] | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | list[ResponsesContentPart] | None = None
    id: str | None = None
    status: str | None = None


class ResponsesTool(_Lenient):
    type: str = Field(description="function (tierd serves function tools)")
    name: str | None = None
    description: str | None = None
    parameters: Any = Field(default=None, description="a JSON schema of the arguments")
    strict: bool | None = None


class ResponsesNamedTool(_Lenient):
    type: str
    name: str | None = None


class ResponsesTextFormat(_Lenient):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    type: str = Field(description="text, json_object or json_schema")
    name: str | None = None
    description: str | None = None
    schema_: Any = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponsesText(_Lenient):
    format: ResponsesTextFormat | None = None


class ResponsesRequest(RequestBody):
    """`/v1/responses`, stateless; unknown fields are kept so the translation can refuse the
    ones that change an answer by name."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    input: str | list[ResponsesInputItem] = Field(min_length=1)
    instructions: str | None = None
    tools: list[ResponsesTool] | None = None
    tool_choice: Literal["none", "auto", "required"] | ResponsesNamedTool | None = None
    parallel_tool_calls: bool | None = None
    text: ResponsesText | None = None
    max_output_tokens: int | None = Field(default=None, ge=1, le=MAX_REPLY_TOKENS)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stream: bool = False
    store: bool | None = None
    previous_response_id: str | None = None


# ---- Anthropic Messages -----------------------------------------------------------------------

class AnthropicSource(_Lenient):
    type: str = Field(description="base64 or url")
    media_type: str | None = None
    data: str | None = None
    url: str | None = None


class AnthropicBlock(_Lenient):
    """A content block; which fields it needs depends on its type (tierd.chat.anthropic)."""

    type: str = Field(description="text, image, tool_use or tool_result")
    text: str | None = None
    source: AnthropicSource | None = None
    id: str | None = None
    name: str | None = None
    input: dict | None = None
    tool_use_id: str | None = None
    content: str | list[AnthropicBlock] | None = None
    is_error: bool | None = None


class AnthropicMessage(_Lenient):
    role: Literal["user", "assistant"]
    content: str | list[AnthropicBlock]


class AnthropicTool(_Lenient):
    type: str | None = None
    name: str
    description: str | None = None
    input_schema: Any = Field(default=None, description="a JSON schema of the input")


class AnthropicToolChoice(_Lenient):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class AnthropicOutputFormat(_Lenient):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    type: str
    schema_: Any = Field(default=None, alias="schema")


class CountTokensRequest(RequestBody):
    """`/v1/messages/count_tokens`: a Messages body without `max_tokens`."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    messages: list[AnthropicMessage] = Field(min_length=1)
    system: str | list[AnthropicBlock] | None = None
    tools: list[AnthropicTool] | None = None
    tool_choice: AnthropicToolChoice | None = None
    output_format: AnthropicOutputFormat | None = None
    thinking: dict | None = None


class MessagesRequest(CountTokensRequest):
    max_tokens: int = Field(ge=1, le=MAX_REPLY_TOKENS)
    stop_sequences: list[str] | None = None
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = None
    stream: bool = False


class OllamaOptions(_Lenient):
    num_predict: int | None = Field(default=None, ge=-2, le=MAX_REPLY_TOKENS,
                                    description="-1 or -2: as long as the context allows")
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None
    stop: list[str] | None = None
    num_ctx: int | None = Field(default=None, ge=1)


KeepAlive = str | int | float | None


OllamaFormat = Literal["", "json"] | dict | None


class OllamaGenerateRequest(RequestBody):
    model: str = Field(min_length=1)
    prompt: str = ""
    system: str | None = None
    raw: bool = False
    stream: bool = True
    options: OllamaOptions | None = None
    keep_alive: KeepAlive = None
    images: list[str] | None = None
    format: OllamaFormat = None
    think: bool | str | None = None
    suffix: str | None = None
    template: str | None = None
    context: list[int] | None = None


class OllamaFunctionCall(_Lenient):
    name: str
    arguments: dict | str = Field(default_factory=dict)


class OllamaToolCall(_Lenient):
    function: OllamaFunctionCall


class OllamaChatMessage(_Lenient):
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    images: list[str] | None = None
    tool_calls: list[OllamaToolCall] | None = None
    tool_name: str | None = None


class OllamaChatRequest(RequestBody):
    model: str = Field(min_length=1)
    messages: list[OllamaChatMessage] = Field(default_factory=list)
    stream: bool = True
    options: OllamaOptions | None = None
    keep_alive: KeepAlive = None
    tools: list[ToolDefinition] | None = None
    format: OllamaFormat = None
    think: bool | str | None = None


class OllamaEmbedRequest(RequestBody):
    model: str = Field(min_length=1)
    input: str | list[str] = Field(default_factory=list, description="empty: load the model")
    truncate: bool = True
    dimensions: int | None = Field(default=None, ge=1, description="shorten each vector to "
                                   "this many dimensions (models trained to be shortened)")
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
