"""The one chat request every API face translates into and every runtime serves.

A conversation is a tuple of `Message`s whose content is text and image parts; an assistant
message may carry `ToolCall`s (each with an id) and a `tool` message answers one of them by
that id. Beside the messages: the tools the model may call, how it must choose among them,
the format its answer must take, and the sampling options. Everything is frozen and plain
data, so the response cache can key on all of it (`cache_payload`).

`check` enforces what holds whatever the API: tool parameters are JSON schemas, a named tool
choice names a tool that is there, a tool result answers a call made before it, a response
format's schema is a schema. Its errors name the field in the words of the API the request
came through (`Fields`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import Iterable, Literal

from jsonschema import Draft202012Validator, SchemaError

from tierd.errors import TierdError
from tierd.runtimes.base import Feature, GenerateOptions

Role = Literal["system", "user", "assistant", "tool"]

IMAGE_TYPES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
"""Image types every vision API takes, by the bytes their files start with."""

TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
"""What OpenAI, Anthropic and Ollama all accept as a function name."""


class BadField(TierdError):
    """A request field tierd cannot honour as given; `field` is its name in the API's words
    (OpenAI errors carry it as `param`)."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    """An image given inline (`data`, with its media type) or, for cloud models only, by URL:
    tierd does not fetch URLs on a caller's behalf."""

    media_type: str = ""
    data: bytes = field(default=b"", repr=False)
    url: str = ""
    detail: str = ""
    """OpenAI's resolution hint ("low", "high", "auto"); passed on where an API has it."""

    @property
    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    @property
    def data_url(self) -> str:
        return f"data:{self.media_type};base64,{self.base64}"


Part = TextPart | ImagePart


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str
    """The arguments as JSON text, as OpenAI carries them (Ollama and Anthropic carry an
    object: see `argument_object`)."""

    def argument_object(self) -> dict:
        """The arguments as an object; text that is not a JSON object becomes {}, as a model
        that wrote broken arguments has called with none that can be read."""
        try:
            value = json.loads(self.arguments) if self.arguments.strip() else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Message:
    role: Role
    parts: tuple[Part, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    """The calls an assistant turn made."""
    tool_call_id: str = ""
    """The call a `tool` message answers."""
    name: str = ""
    """The function a `tool` message answers (Ollama's tool_name); `check` fills it in from
    the call it answers."""

    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def images(self) -> tuple[ImagePart, ...]:
        return tuple(p for p in self.parts if isinstance(p, ImagePart))


@dataclass(frozen=True)
class Tool:
    name: str
    description: str = ""
    parameters: dict = field(default_factory=lambda: {"type": "object", "properties": {}})
    """A JSON schema of the arguments (an object)."""
    strict: bool = False


@dataclass(frozen=True)
class ToolChoice:
    mode: Literal["auto", "none", "required", "function"] = "auto"
    name: str = ""
    """The one function to call (mode "function")."""


@dataclass(frozen=True)
class ResponseFormat:
    type: Literal["text", "json_object", "json_schema"] = "text"
    schema: dict | None = None
    name: str = ""
    strict: bool = False


AUTO = ToolChoice()
TEXT = ResponseFormat()


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[Message, ...]
    options: GenerateOptions = GenerateOptions()
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice = AUTO
    parallel_tool_calls: bool = True
    response_format: ResponseFormat = TEXT

    @classmethod
    def plain(cls, messages: Iterable[dict], options: GenerateOptions = GenerateOptions()
              ) -> ChatRequest:
        """A text-only conversation from {"role", "content"} dicts (tierd's own callers: the
        index summaries, bench, route explain)."""
        return cls(tuple(Message(m["role"], (TextPart(m["content"]),) if m["content"] else ())
                         for m in messages), options)

    def text_messages(self) -> list[dict]:
        """The conversation as {"role", "content"} dicts of its text: what the task classifier
        and the answer checks read (tool calls and images say nothing about the task)."""
        return [{"role": m.role, "content": m.text()} for m in self.messages]

    @property
    def offers_tools(self) -> bool:
        return bool(self.tools) and self.tool_choice.mode != "none"

    def needs(self) -> frozenset[Feature]:
        """The features a model must have to serve this request."""
        needs: set[Feature] = {"completion"}
        if self.offers_tools or any(m.tool_calls or m.role == "tool" for m in self.messages):
            needs.add("tools")
        if any(m.images for m in self.messages):
            needs.add("vision")
        if self.response_format.type != "text":
            needs.add("json_schema")
        return frozenset(needs)

    @property
    def image_urls(self) -> tuple[str, ...]:
        """Images given by URL, which only a cloud model can take."""
        return tuple(i.url for m in self.messages for i in m.images if i.url)

    def cache_payload(self) -> dict:
        """Everything that shapes the answer, as JSON-able data; images by content hash."""
        def part(p: Part) -> dict:
            if isinstance(p, TextPart):
                return {"text": p.text}
            return {"image": p.url or hashlib.sha256(p.data).hexdigest(),
                    "type": p.media_type, "detail": p.detail}

        return {
            "messages": [{"role": m.role, "parts": [part(p) for p in m.parts],
                          "tool_calls": [asdict(c) for c in m.tool_calls],
                          "tool_call_id": m.tool_call_id, "name": m.name}
                         for m in self.messages],
            "options": asdict(self.options),
            "tools": [asdict(t) for t in self.tools],
            "tool_choice": asdict(self.tool_choice),
            "parallel_tool_calls": self.parallel_tool_calls,
            "response_format": asdict(self.response_format),
        }

    def tool(self, name: str) -> Tool | None:
        return next((t for t in self.tools if t.name == name), None)

    def forced_tools(self) -> tuple[Tool, ...]:
        """The tools a reply must call one of: all of them ("required"), the named one, or
        none (the model may answer in text)."""
        if not self.tools or self.tool_choice.mode in ("auto", "none"):
            return ()
        if self.tool_choice.mode == "required":
            return self.tools
        return tuple(t for t in self.tools if t.name == self.tool_choice.name)


def new_call_id() -> str:
    """An id for a tool call whose API gave it none (Ollama's), or that a model wrote."""
    return f"call_{uuid.uuid4().hex[:24]}"


# ---------------------------------------------------------------------------------------------
# Checks


@dataclass(frozen=True)
class Fields:
    """How one API names the fields `check` may complain about."""

    tools: str = "tools"
    parameters: str = "function.parameters"
    tool_choice: str = "tool_choice"
    response_format: str = "response_format"
    schema: str = "json_schema.schema"
    messages: str = "messages"
    tool_call_id: str = "tool_call_id"


def check(request: ChatRequest, fields: Fields) -> ChatRequest:
    """`request` if it is coherent; else BadField naming the first problem."""
    names: list[str] = []
    for i, tool in enumerate(request.tools):
        where = f"{fields.tools}[{i}]"
        if not TOOL_NAME.match(tool.name):
            raise BadField(f"{where}.name", f"{tool.name!r} is not a function name (1 to 64 "
                                            "letters, digits, '_', '-' or '.')")
        if tool.name in names:
            raise BadField(f"{where}.name", f"{tool.name!r} is defined twice")
        names.append(tool.name)
        problem = schema_problem(tool.parameters, object_only=True)
        if problem:
            raise BadField(f"{where}.{fields.parameters}", problem)
    choice = request.tool_choice
    if choice.mode == "function" and choice.name not in names:
        listed = ", ".join(names) or "none are given"
        raise BadField(fields.tool_choice, f"names function {choice.name!r}, which is not in "
                                           f"{fields.tools} ({listed})")
    if choice.mode == "required" and not request.tools:
        raise BadField(fields.tool_choice, f"is \"required\" but {fields.tools} is empty")
    made: dict[str, str] = {}
    messages = []
    for i, message in enumerate(request.messages):
        for call in message.tool_calls:
            made[call.id] = call.name
        if message.role == "tool":
            if message.tool_call_id not in made:
                known = ", ".join(made) or "no call was made before it"
                raise BadField(f"{fields.messages}[{i}].{fields.tool_call_id}",
                               f"{message.tool_call_id!r} answers no tool call of an earlier "
                               f"assistant message ({known})")
            # Ollama names the function a result answers: say it whatever the API was.
            message = replace(message, name=made[message.tool_call_id])
        messages.append(message)
    form = request.response_format
    where = ".".join(n for n in (fields.response_format, fields.schema) if n)
    if form.type == "json_schema":
        if form.schema is None:
            raise BadField(where, "is required for json_schema")
        problem = schema_problem(form.schema, object_only=False)
        if problem:
            raise BadField(where, problem)
    return replace(request, messages=tuple(messages))


def schema_problem(schema: object, object_only: bool) -> str | None:
    """Why `schema` is not a usable JSON schema (for tool arguments: of an object), or None."""
    if not isinstance(schema, dict):
        return f"must be a JSON schema (an object), not {json.dumps(schema)[:80]}"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as err:
        where = "/".join(str(p) for p in err.path)
        return f"is not a valid JSON schema ({where + ': ' if where else ''}{err.message})"
    except RecursionError:
        return "is nested too deeply to be a usable JSON schema"
    if object_only and schema.get("type", "object") != "object":
        return f"must describe an object (\"type\": \"object\"), not {schema.get('type')!r}"
    return None


def image_from_base64(text: str, where: str, media_type: str = "") -> ImagePart:
    """An inline image from base64 text (Ollama's `images`, a data URL's payload); its type is
    read from its first bytes and must agree with `media_type` when one is given."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadField(where, "is not valid base64 image data") from None
    found = next((kind for kind, magics in IMAGE_TYPES.items()
                  if any(data.startswith(m) for m in magics)), None)
    if found == "image/webp" and data[8:12] != b"WEBP":
        found = None  # another RIFF file (a WAV, an AVI)
    if found is None:
        raise BadField(where, f"is not a PNG, JPEG, GIF or WebP image "
                              f"({len(data)} bytes starting {data[:8]!r})")
    if media_type and media_type != found:
        raise BadField(where, f"says {media_type} but holds {found} data")
    return ImagePart(found, data)


_DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)(?:;[\w-]+=[^;,]*)*;base64,"
                       r"(?P<data>.*)$", re.S)


def image_from_url(url: str, where: str, detail: str = "") -> ImagePart:
    """An OpenAI `image_url`: a base64 data URL (checked), or an http(s) URL kept as it is
    for a cloud model."""
    if url.startswith(("http://", "https://")):
        return ImagePart(url=url, detail=detail)
    match = _DATA_URL.match(url)
    if match is None:
        raise BadField(where, "must be a data URL (data:image/png;base64,...) or an http(s) URL")
    image = image_from_base64(match.group("data"), where, match.group("type").lower())
    return ImagePart(image.media_type, image.data, detail=detail)
