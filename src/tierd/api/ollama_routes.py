"""Ollama-compatible endpoints, with Ollama's field names and nanosecond timings, so the
`ollama` Python client and tools built for Ollama work unchanged.

Two deliberate differences: `keep_alive` and `options.num_ctx` do not drive loading here —
the budget manager owns what is loaded and every model runs at its configured context, so a
client can never force a silent reload. An empty prompt still loads a model, and an empty
prompt with `keep_alive: 0` still unloads it, as in Ollama.
"""

from __future__ import annotations

import datetime as dt
import json

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from .. import __version__, inference, routing
from ..errors import TierdError, UnknownModel
from ..model_actions import pull_model
from ..runtimes.base import Chunk, GenerateOptions, ModelInfo
from .openai_routes import request_id, task_header
from .schemas import (OllamaChatRequest, OllamaEmbeddingsRequest, OllamaEmbedRequest,
                      OllamaPullRequest,
                      OllamaGenerateRequest, OllamaOptions, OllamaShowRequest, as_list)
from .streaming import callback_stream, collect, open_stream
from .vectors import normalised

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
    app = request.app.state.tierd
    if _is_unload(keep_alive):
        await run_in_threadpool(app.manager.unload, model)
        reason = "unload"
    else:
        await run_in_threadpool(app.manager.load, model)
        reason = "load"
    return {"model": model, "created_at": _now(), **shape, "done": True, "done_reason": reason}


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
    reply = await run_in_threadpool(routing.open_chat, app, body.model, task_header(request),
                                    messages, options, body.stream, request_id(request),
                                    body.prompt if body.raw else None)
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
    reply = await run_in_threadpool(routing.open_chat, app, body.model, task_header(request),
                                    messages, options, body.stream, request_id(request))
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
    if any(not t for t in texts):
        raise TierdError("input: empty strings cannot be embedded")
    routed = await run_in_threadpool(routing.route_embed, app, body.model, task_header(request),
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
    routed = await run_in_threadpool(routing.route_embed, app, body.model, task_header(request),
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
    found = await run_in_threadpool(inference.available_models, request.app.state.tierd)
    return {"models": [{"name": info.name, "model": info.name, "modified_at": NEVER,
                        "size": info.file_bytes, "digest": _digest(info),
                        "details": _details(info)} for _, info in found]}


@router.get("/api/ps")
async def ps(request: Request):
    app = request.app.state.tierd
    found = {info.name: info for _, info in
             await run_in_threadpool(inference.available_models, app)}
    models = []
    for host in app.manager.snapshot().values():
        for entry in host["models"]:
            info = found.get(entry["name"])
            models.append({
                "name": entry["name"], "model": entry["name"], "size": entry["bytes"],
                "digest": _digest(info) if info else "",
                "details": _details(info) if info else {},
                "expires_at": NEVER, "size_vram": entry["bytes"],
                "context_length": entry["context_length"],
            })
    return {"models": models}


@router.post("/api/show")
async def show(body: OllamaShowRequest, request: Request):
    app = request.app.state.tierd
    name = body.model_name()
    found = await run_in_threadpool(inference.available_models, app)
    for _, info in found:
        if info.name == name:
            arch = info.metadata.get("architecture") or info.metadata.get("family") or "llama"
            model_info = {"general.architecture": arch,
                          f"{arch}.context_length": info.context_length}
            for key in ("block_count", "embedding_length"):
                if key in info.metadata:
                    model_info[f"{arch}.{key}"] = info.metadata[key]
            for key in ("head_count", "head_count_kv", "key_length", "value_length"):
                if key in info.metadata:
                    model_info[f"{arch}.attention.{key}"] = info.metadata[key]
            capability = "embedding" if info.capability == "embed" else "completion"
            return {"modelfile": "", "parameters": "", "template": "",
                    "details": _details(info), "model_info": model_info,
                    "capabilities": [capability], "modified_at": NEVER}
    raise UnknownModel(name, [info.name for _, info in found])


@router.get("/api/version")
async def version():
    return {"version": OLLAMA_API_VERSION, "tierd": __version__}


@router.get("/", response_class=PlainTextResponse, include_in_schema=False)
@router.head("/", response_class=PlainTextResponse, include_in_schema=False)
async def root():
    return "Ollama is running (tierd)"


@router.post("/api/pull")
async def pull(body: OllamaPullRequest, request: Request):
    """Make a packaged model or pull onto an Ollama host behind tierd, streaming Ollama's
    progress lines; an unknown name is a 404 before anything streams."""
    app = request.app.state.tierd
    name = body.model_name()
    if not body.stream:
        await run_in_threadpool(pull_model, app, name)
        return {"status": "success"}

    def factory(cancel):
        return callback_stream(lambda emit: pull_model(app, name, None, emit))

    stream = await open_stream(factory)

    async def lines():
        try:
            async for step in stream:
                line = {"status": step.status}
                if step.digest:
                    line.update(digest=step.digest, total=step.total, completed=step.completed)
                yield json.dumps(line) + "\n"
        except TierdError as err:
            yield json.dumps({"error": str(err)}) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")
