"""Latency tierd adds over calling the runtime directly.

In one run, the same small requests (a one-token chat completion, a one-text embedding) go
three ways, in turn, so drift on a busy machine hits all alike:
- in-process: straight to an EmbeddedRuntime in this process (no HTTP at all);
- bare HTTP: to the same runtime behind a minimal endpoint on the same server stack (uvicorn,
  JSON, the same client), in a child process: what serving the runtime over HTTP costs anyway;
- tierd: through `tierd serve` in a child process (validation, routing, queueing, leasing, the
  ledger row, auth, the request log).
"tierd's added" is tierd minus bare HTTP, the like-for-like figure LiteLLM's published 2-12 ms
proxy overhead means; "vs in-process" also counts the HTTP hop itself. Target: tierd's added
p50 at most 2 ms.

    .venv/bin/python benchmarks/api_overhead.py [--requests 200]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from tierd.chat.request import ChatRequest  # noqa: E402
from tierd.runtimes.base import GenerateOptions  # noqa: E402
from tierd.runtimes.embedded import EmbeddedRuntime  # noqa: E402
from tierd.runtimes.packaged import ensure_packaged  # noqa: E402

CHAT, EMBED = "packaged:gemma3-270m", "packaged:all-minilm"


def messages(i: int) -> list[dict]:
    """A different prompt per request, so neither tierd's response cache nor llama.cpp's
    prompt cache answers one path and not the other."""
    return [{"role": "user", "content": f"Reply with one word about item {i}."}]


OPTIONS = GenerateOptions(max_tokens=1, temperature=0.0, seed=1)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen) -> None:
    for _ in range(600):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{url} did not answer")


def start_tierd(state: Path, port: int) -> subprocess.Popen:
    config = state / "config.toml"
    config.write_text(f'state_dir = "{state}"\n[server]\nlisten = "127.0.0.1:{port}"\n'
                      f'[[models]]\nname = "{CHAT}"\ncontext_length = 512\n'
                      f'[[models]]\nname = "{EMBED}"\ncontext_length = 512\n')
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    process = subprocess.Popen([sys.executable, "-m", "tierd", "--config", str(config), "serve"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wait_for(f"http://127.0.0.1:{port}/healthz", process)
    return process


def start_bare(models: Path, port: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, __file__, "--bare-server", str(port),
                                "--models", str(models)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(f"http://127.0.0.1:{port}/healthz", process)
    return process


def serve_bare(port: int, models: Path) -> None:
    """The runtime behind the thinnest OpenAI-shaped endpoints: the HTTP-only baseline."""
    runtime = EmbeddedRuntime("local", models)
    runtime.load(CHAT, 512)
    runtime.load(EMBED, 512)
    app = FastAPI()

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()

        def run() -> str:
            options = GenerateOptions(max_tokens=body["max_tokens"], temperature=0.0, seed=1)
            request = ChatRequest.plain(body["messages"], options)
            return "".join(c.text for c in runtime.chat(CHAT, request))

        text = await run_in_threadpool(run)
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}

    @app.post("/v1/embeddings")
    async def embeddings(request: Request):
        body = await request.json()
        result = await run_in_threadpool(runtime.embed, EMBED, body["input"])
        return {"data": [{"index": i, "embedding": v} for i, v in enumerate(result.vectors)]}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per endpoint and path")
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--models", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        serve_bare(args.bare_server, args.models)
        return

    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        models = state / "models"
        for name in (CHAT, EMBED):
            ensure_packaged(name, models)
        runtime = EmbeddedRuntime("local", models)
        runtime.load(CHAT, 512)
        runtime.load(EMBED, 512)
        tierd_port, bare_port = free_port(), free_port()
        servers = [start_tierd(state, tierd_port), start_bare(models, bare_port)]
        client = httpx.Client(timeout=60)

        def over_http(port: int, path: str, payload) -> Callable[[int], None]:
            def call(i: int) -> None:
                client.post(f"http://127.0.0.1:{port}{path}", json=payload(i)).raise_for_status()
            return call

        chat_body = lambda i: {"model": CHAT, "messages": messages(i), "max_tokens": 1,  # noqa: E731
                               "temperature": 0, "seed": 1}
        embed_body = lambda i: {"model": EMBED, "input": [f"the quick brown fox number {i}"]}  # noqa: E731
        paths = {
            "/v1/chat/completions": (
                lambda i: list(runtime.chat(CHAT, ChatRequest.plain(messages(i), OPTIONS))),
                over_http(bare_port, "/v1/chat/completions", chat_body),
                over_http(tierd_port, "/v1/chat/completions", chat_body)),
            "/v1/embeddings": (
                lambda i: runtime.embed(EMBED, [f"the quick brown fox number {i}"]),
                over_http(bare_port, "/v1/embeddings", embed_body),
                over_http(tierd_port, "/v1/embeddings", embed_body)),
        }
        results = {}
        try:
            for label, ways in paths.items():
                for i in range(10):  # warm-up: loads, connections
                    for way in ways:
                        way(-i - 1)
                samples: list[list[float]] = [[], [], []]
                for i in range(args.requests):
                    for n, way in enumerate(ways):
                        samples[n].append(timed(lambda: way(i)))
                results[label] = samples
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=60)

    print(f"api overhead: {args.requests} requests per path, taken in turn; one-token chat, "
          "one-text embedding; ms")
    header = (f"{'endpoint':22} {'':4} {'in-process':>10} {'bare HTTP':>10} {'tierd':>10} "
              f"{'tierd added':>12} {'vs in-process':>14}")
    print(header)
    print("-" * len(header))
    added = []
    for label, (direct, bare, tierd) in results.items():
        for q, name in ((0.5, "p50"), (0.99, "p99")):
            d, b, t = (percentile(x, q) for x in (direct, bare, tierd))
            if name == "p50":
                added.append(t - b)
            print(f"{label:22} {name:4} {d:10.2f} {b:10.2f} {t:10.2f} {t - b:12.2f} {t - d:14.2f}")
    verdict = "PASS" if max(added) <= 2.0 else "over the 2 ms target"
    print(f"tierd's added p50 over bare HTTP: {', '.join(f'{a:.2f} ms' for a in added)}; "
          f"target <= 2 ms: {verdict}")


if __name__ == "__main__":
    main()
