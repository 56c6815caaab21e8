"""Latency and throughput tierd adds on the cloud path, against calling the upstream directly.

One run, on this machine: an instant OpenAI-compatible upstream on loopback (in a child
process: each answer, 12 reply tokens with usage, made once and sent in one write), and the
same requests sent to it directly and through `tierd serve` (another child process, the model
named exactly, the response cache off):

- sequential: `--requests` of each (default 300), interleaved request by request (direct plain,
  tierd plain, direct streaming, tierd streaming; the paths' order turned by one each round),
  so drift on a busy machine hits all alike; a streaming request is timed to its last byte;
- concurrent: `--burst` requests (default 2,000) at `--concurrency` (default 32), plain, as
  requests per second, in `--rounds` (default 4) that take the paths in turn, the order
  reversed each round, so a busy machine's load, which comes and goes, hits all alike;
- the ledger: right after the load, tierd's `calls` rows for the upstream must equal the
  calls sent through it, every one `ok` (a call's row is committed before its answer ends);
- LiteLLM's proxy, when its `litellm` command is installed, as an optional comparison;
- the pass-through floor, as context (not a target): the server stack tierd serves through
  (uvicorn on uvloop with httptools, one process) with a raw ASGI app of a few lines in place
  of tierd, forwarding each request's body to the upstream and relaying its bytes back, plain
  and streaming, with no routing, ledger or budget: `floor-httpx` through httpx's pooled async
  transport on the event loop, `floor-thread` through httpx's pooled blocking transport in a
  worker thread (as tierd calls a provider: one hop from the loop and back), and `floor-raw`
  through a hand-written relay over pooled asyncio connections. What a floor adds is the cost
  of the stack on this machine; what tierd adds beyond it is tierd's own work.

"Added" is a path's percentile minus the direct one. Targets (exit 1 when one is missed): added
p50 <= 1.0 ms plain and streaming, added p99 <= 3 ms sequential, at 32 concurrent >= 80 % of
the direct throughput, ledger rows = calls. The local embedded path is measured the same way
by benchmarks/api_overhead.py.

    .venv/bin/python benchmarks/gateway_overhead.py [--requests 300] [--burst 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

KEY = "sk-gateway-standin"
MODEL = "gpt-4o-mini"
ROUTED = f"standin/{MODEL}"
AUTH = {"Authorization": f"Bearer {KEY}"}
"""The upstream's key; tierd (no token set) ignores it, as a client of both would send it."""
CONFIG = """state_dir = "{state}"
env_file = "{keys}"
[server]
listen = "127.0.0.1:{port}"
queue_limit = 256
[[providers]]
name = "standin"
base_url = "http://127.0.0.1:{upstream}/v1"
api_key_env = "GATEWAY_STANDIN_KEY"
models = ["{model}"]
[budgets]
daily = 1000000.0
[routing]
cache_ttl = 0
"""
REPLY_WORDS = 12
FLOORS = ("httpx", "thread", "stdlib", "raw")
ORDER = ["direct", "floor-raw", "floor-httpx", "floor-thread", "floor-stdlib", "tierd",
         "baseline", "litellm"]


def completion_bytes(model: str, stream: bool) -> bytes:
    """The upstream's whole answer, made once: OpenAI's shape, usage included."""
    words = [f"w{i} " for i in range(REPLY_WORDS)]
    usage = {"prompt_tokens": 12, "completion_tokens": REPLY_WORDS, "total_tokens": 24}
    base = {"id": "chatcmpl-instant", "created": 0, "model": model}
    if not stream:
        payload = json.dumps({**base, "object": "chat.completion", "usage": usage, "choices": [
            {"index": 0, "finish_reason": "stop",
             "message": {"role": "assistant", "content": "".join(words)}}]}).encode()
        return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n" % len(payload)) + payload
    chunk = {**base, "object": "chat.completion.chunk"}
    events = [{**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                     "finish_reason": None}]}]
    events += [{**chunk, "choices": [{"index": 0, "delta": {"content": w},
                                      "finish_reason": None}]} for w in words]
    events += [{**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
               {**chunk, "choices": [], "usage": usage}]
    sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events).encode() + b"data: [DONE]\n\n"
    return (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"content-length: %d\r\n\r\n" % len(sse)) + sse


async def serve_upstream() -> None:
    """An instant OpenAI-compatible upstream: HTTP/1.1 keep-alive, each answer made once and
    sent in one write (no Nagle stall between headers and body), so what is measured is the
    path in front of it. It checks the key as a provider would."""
    answers = {stream: completion_bytes(MODEL, stream) for stream in (False, True)}
    refusal = b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 2\r\n\r\n{}"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").lower().split("\r\n")
                length = next((int(line.split(":", 1)[1]) for line in lines
                               if line.startswith("content-length:")), 0)
                payload = json.loads(await reader.readexactly(length)) if length else {}
                authorised = f"authorization: bearer {KEY}".lower() in lines
                writer.write(answers[bool(payload.get("stream"))] if authorised else refusal)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=512)
    for sock in server.sockets:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


FLOOR_HEADERS = (b"content-type", b"authorization")
"""What the floor passes on, each way: the body's type and the client's key."""


def floor_app(upstream: int, relay: str):
    """The pass-through floor: a raw ASGI app (no FastAPI, no middleware) that forwards each
    POST's body to the upstream and relays the answer's bytes as they come, the way the
    thinnest proxy on tierd's server stack would. `relay` says how it reaches the upstream:
    `httpx` through httpx's async transport (one pool, connections kept), `thread` through
    httpx's blocking transport in a worker thread, the whole answer read there and handed
    back (one pool; a thread per concurrent request, kept), `raw` through asyncio streams of
    its own (an idle connection reused, else a new one)."""
    import http.client
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    transport = httpx.AsyncHTTPTransport()
    blocking = httpx.HTTPTransport()
    threads = ThreadPoolExecutor(max_workers=64)
    kept: list[http.client.HTTPConnection] = []
    url = f"http://127.0.0.1:{upstream}/v1/chat/completions"
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def read_body(receive) -> bytes:
        parts, more = [], True
        while more:
            message = await receive()
            parts.append(message.get("body", b""))
            more = message.get("more_body", False)
        return b"".join(parts)

    async def via_httpx(payload: bytes, headers: list, send) -> None:
        request = httpx.Request("POST", url, headers=headers, content=payload)
        response = await transport.handle_async_request(request)
        try:
            await start(send, response.status_code, response.headers.raw)
            async for chunk in response.stream:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            await response.aclose()

    def call_blocking(payload: bytes, headers: list) -> tuple[int, list, list[bytes]]:
        response = blocking.handle_request(httpx.Request("POST", url, headers=headers,
                                                         content=payload))
        try:
            return response.status_code, response.headers.raw, list(response.stream)
        finally:
            response.close()

    def call_stdlib(payload: bytes, headers: list) -> tuple[int, list, list[bytes]]:
        connection = kept.pop() if kept else http.client.HTTPConnection("127.0.0.1", upstream)
        connection.request("POST", "/v1/chat/completions", body=payload,
                           headers={k.decode(): v.decode() for k, v in headers})
        response = connection.getresponse()
        chunks = [response.read()]
        kept.append(connection)
        return response.status, [(k.encode(), v.encode()) for k, v in response.getheaders()], \
            chunks

    async def via_thread(payload: bytes, headers: list, send) -> None:
        call = call_stdlib if relay == "stdlib" else call_blocking
        status, answer, chunks = await asyncio.get_running_loop().run_in_executor(
            threads, call, payload, headers)
        await start(send, status, answer)
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def via_raw(payload: bytes, headers: list, send) -> None:
        reader, writer = idle.pop() if idle else await asyncio.open_connection(
            "127.0.0.1", upstream)
        head = b"".join(b"%s: %s\r\n" % pair for pair in headers)
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n%s"
                     b"content-length: %d\r\n\r\n%s" % (head, len(payload), payload))
        lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        answer = [tuple(part.strip() for part in line.split(b":", 1))
                  for line in lines[1:] if b":" in line]
        await start(send, int(lines[0].split()[1]), answer)
        length = next(int(v) for k, v in answer if k.lower() == b"content-length")
        while length:
            chunk = await reader.read(min(length, 65536))
            if not chunk:
                raise ConnectionError("the upstream closed mid-answer")
            length -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        idle.append((reader, writer))

    async def start(send, status: int, headers) -> None:
        kept = [(k.lower(), v) for k, v in headers if k.lower() == b"content-type"]
        await send({"type": "http.response.start", "status": status, "headers": kept})

    async def app(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        if scope["method"] == "GET":  # the readiness check
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        headers = [(k, v) for k, v in scope["headers"] if k in FLOOR_HEADERS]
        payload = await read_body(receive)
        relay_with = {"httpx": via_httpx, "thread": via_thread, "stdlib": via_thread,
                      "raw": via_raw}[relay]
        await relay_with(payload, headers, send)
        await send({"type": "http.response.body", "body": b""})

    return app


def serve_floor(upstream: int, relay: str, port: int) -> None:
    """The floor on the stack tierd serves through: uvicorn, uvloop, httptools, one process."""
    import uvicorn

    uvicorn.run(floor_app(upstream, relay), host="127.0.0.1", port=port, loop="uvloop",
                http="httptools", log_level="warning", access_log=False, lifespan="on")


def start_floor(relay: str, upstream: int, root: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = root / f"floor-{relay}.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, __file__, "--serve-floor", relay,
                                    "--upstream", str(upstream), "--port", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_for(f"{url}/ready", process, log)
    return process, f"{url}/v1/chat/completions"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def body(i: int, stream: bool, model: str) -> dict:
    """A different prompt per request, so no cache anywhere answers one path and not the
    other, and words of its own, so tierd's loop breaker (on, as a user runs it) does not
    take a run of them for an agent replying to itself."""
    words = " ".join(f"w{(i * 7919 + k * 104729) % 1_000_003}" for k in range(8))
    return {"model": model, "stream": stream, "max_tokens": 16,
            "messages": [{"role": "user", "content": f"Reply briefly about {words}."}]}


def wait_for(url: str, process: subprocess.Popen, log: Path | None = None) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited: {log.read_text()[-2000:] if log else ''}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


def one(client: httpx.Client, url: str, payload: dict) -> float:
    start = time.perf_counter()
    if payload["stream"]:
        with client.stream("POST", url, json=payload) as response:
            content = b"".join(response.iter_raw())
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code} to a stream: "
                             f"{content[:300]!r}")
    else:
        response = client.post(url, json=payload)
        response.read()
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}: {response.text[:300]}")
    return elapsed


def sequential(targets: dict[str, tuple[str, str]], n: int) -> dict[tuple[str, bool], list]:
    """`n` plain and `n` streaming requests per target, interleaved request by request, the
    order of the targets turned by one each round: a path always sent right after another
    (say, right after the upstream's own answer) would meet the machine in one state only."""
    times: dict[tuple[str, bool], list[float]] = {(name, s): [] for name in targets
                                                  for s in (False, True)}
    clients = {name: httpx.Client(timeout=30, headers=AUTH) for name in targets}
    names = list(targets)
    try:
        for i in range(-20, n):  # 20 rounds of warm-up: connections, caches, JIT-less paths
            turn = i % len(names)
            for stream in (False, True):
                for name in names[turn:] + names[:turn]:
                    url, model = targets[name]
                    elapsed = one(clients[name], url, body(i, stream, model))
                    if i >= 0:
                        times[(name, stream)].append(elapsed)
    finally:
        for client in clients.values():
            client.close()
    return times


async def burst(url: str, model: str, total: int, concurrency: int, offset: int = 0) -> float:
    """Requests per second for `total` plain requests, `concurrency` at a time (their prompts
    numbered from `offset`, so no two rounds send the same)."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits, headers=AUTH) as client:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(total):
            queue.put_nowait(i)
        failures = []

        async def worker() -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                response = await client.post(url, json=body(100_000 + offset + i, False,
                                                             model))
                if response.status_code != 200:
                    failures.append(response.status_code)

        await asyncio.gather(*(client.post(url, json=body(-1 - offset - i, False, model))
                               for i in range(concurrency)))  # open the connections
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    if failures:
        raise SystemExit(f"{url}: {len(failures)} of {total} failed ({sorted(set(failures))})")
    return total / elapsed


def bursts(targets: dict[str, tuple[str, str]], total: int, concurrency: int,
           rounds: int) -> dict[str, float]:
    """Requests per second of each target for `total` requests in all, sent in `rounds`
    bursts per target that take turns (the order reversed each round)."""
    seconds = dict.fromkeys(targets, 0.0)
    names = list(targets)
    for n in range(rounds):
        share = total // rounds + (1 if n < total % rounds else 0)
        for name in names if n % 2 == 0 else reversed(names):
            url, model = targets[name]
            seconds[name] += share / asyncio.run(burst(url, model, share, concurrency,
                                                       offset=n * total))
    return {name: total / spent for name, spent in seconds.items()}


def ledger_rows(state: Path) -> tuple[int, int]:
    from tierd.db import connect

    conn = connect(state / "state.db", readonly=True)
    try:
        return conn.execute("SELECT COUNT(*), SUM(status = 'ok') FROM calls "
                            "WHERE provider = 'standin'").fetchone()
    finally:
        conn.close()


def start_tierd(folder: Path, tree: Path, keys: Path, upstream: int
                ) -> tuple[subprocess.Popen, str]:
    """`tierd serve` from the source tree `tree`, in front of the upstream."""
    folder.mkdir(parents=True)
    port = free_port()
    config = folder / "config.toml"
    config.write_text(CONFIG.format(state=folder / "state", keys=keys, port=port,
                                    upstream=upstream, model=MODEL))
    log = folder / "tierd.log"
    launch = (f"import sys; sys.path.insert(0, {str(tree)!r}); from tierd.cli.main import main; "
              "sys.argv[0] = 'tierd'; sys.exit(main())")
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-c", launch, "--config", str(config),
                                    "serve"], env=dict(os.environ, PYTHONPATH=str(tree)),
                                   stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_for(f"{url}/healthz", process, log)
    # The model listing waits for the packaged local models to be made (first start):
    # measure the cloud path, not that.
    httpx.get(f"{url}/v1/models", timeout=600).raise_for_status()
    return process, f"{url}/v1/chat/completions"


def start_litellm(upstream: int, root: Path) -> tuple[subprocess.Popen, str] | None:
    """LiteLLM's proxy in front of the same upstream, when it is installed (1 worker)."""
    command = shutil.which("litellm") or (
        str(Path(sys.executable).parent / "litellm")
        if (Path(sys.executable).parent / "litellm").exists() else None)
    if command is None:
        return None
    port = free_port()
    config = root / "litellm.yaml"
    config.write_text(f"model_list:\n  - model_name: {MODEL}\n    litellm_params:\n"
                      f"      model: openai/{MODEL}\n      api_base: http://127.0.0.1:{upstream}/v1\n"
                      f"      api_key: {KEY}\n")
    log = root / "litellm.log"
    with open(log, "w") as out:
        process = subprocess.Popen([command, "--config", str(config), "--port", str(port),
                                    "--num_workers", "1"], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_for(f"{url}/health/liveliness", process, log)
    return process, f"{url}/v1/chat/completions"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=4,
                        help="the concurrent requests are sent in this many rounds, the paths "
                             "taking turns")
    parser.add_argument("--compare-src", metavar="DIR", action="append", default=[],
                        help="also run the tierd of another source tree (say, main's src/) as "
                             "'baseline', interleaved with the rest; given again, each further "
                             "tree runs as 'baseline-2', 'baseline-3', ...")
    parser.add_argument("--no-floor", action="store_true",
                        help="leave out the pass-through floors")
    parser.add_argument("--serve-upstream", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-floor", choices=FLOORS, help=argparse.SUPPRESS)
    parser.add_argument("--upstream", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        asyncio.run(serve_upstream())
        return 0
    if args.serve_floor:
        serve_floor(args.upstream, args.serve_floor, args.port)
        return 0
    children: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        upstream_process = subprocess.Popen(
            [sys.executable, __file__, "--serve-upstream"], stdout=subprocess.PIPE, text=True)
        children.append(upstream_process)
        try:
            upstream = int(upstream_process.stdout.readline())
            keys = root / "keys.env"
            keys.write_text(f"GATEWAY_STANDIN_KEY={KEY}\n")
            targets = {"direct": (f"http://127.0.0.1:{upstream}/v1/chat/completions", MODEL)}
            pids: dict[str, int] = {}
            for relay in () if args.no_floor else FLOORS:
                process, url = start_floor(relay, upstream, root)
                children.append(process)
                targets[f"floor-{relay}"] = (url, MODEL)
                pids[f"floor-{relay}"] = process.pid
            trees = {"tierd": REPO / "src"}
            for n, tree in enumerate(args.compare_src, 1):
                trees["baseline" if n == 1 else f"baseline-{n}"] = Path(tree).resolve()
            for name, tree in trees.items():
                process, url = start_tierd(root / name, tree, keys, upstream)
                children.append(process)
                targets[name] = (url, ROUTED)
                pids[name] = process.pid
            litellm = start_litellm(upstream, root)
            if litellm is not None:
                children.append(litellm[0])
                targets["litellm"] = (litellm[1], MODEL)
            load_before = os.getloadavg()[0]
            daemons = {name: psutil.Process(pid) for name, pid in pids.items()}
            cpu_before = {name: sum(d.cpu_times()[:2]) for name, d in daemons.items()}
            seq = sequential(targets, args.requests)
            cpu_ms = {name: (sum(d.cpu_times()[:2]) - cpu_before[name]) * 1000
                      / (2 * (args.requests + 20)) for name, d in daemons.items()}
            cpu_before = {name: sum(d.cpu_times()[:2]) for name, d in daemons.items()}
            rps = bursts(targets, args.burst, args.concurrency, args.rounds)
            cpu_ms_burst = {name: (sum(d.cpu_times()[:2]) - cpu_before[name]) * 1000
                            / (args.burst + args.rounds * args.concurrency)
                            for name, d in daemons.items()}
            rss = {name: psutil.Process(pid).memory_info().rss / 2**20
                   for name, pid in pids.items()}
            if litellm is not None:
                rss["litellm"] = sum(p.memory_info().rss for p in [
                    psutil.Process(litellm[0].pid), *psutil.Process(litellm[0].pid).children(
                        recursive=True)]) / 2**20
            load_after = os.getloadavg()[0]
            sent = 2 * (args.requests + 20) + args.burst + args.rounds * args.concurrency
            rows, ok = ledger_rows(root / "tierd" / "state")
        finally:
            for child in reversed(children):
                child.terminate()
                try:
                    child.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    child.kill()
    return report(args, seq, rps, rss, sent, rows, ok or 0, load_before, load_after, cpu_ms,
                  cpu_ms_burst)


def report(args, seq, rps, rss, sent: int, rows: int, ok: int, load_before: float,
           load_after: float, cpu_ms: dict[str, float], cpu_ms_burst: dict[str, float]) -> int:
    direct = {s: seq[("direct", s)] for s in (False, True)}
    print(f"gateway overhead: {args.requests} sequential requests per path and kind "
          f"(interleaved), {args.burst} at {args.concurrency} concurrent; load average "
          f"{load_before:.2f} -> {load_after:.2f} on {os.cpu_count()} cores\n")
    print(f"{'path':<13}{'p50 plain':>10}{'p50 stream':>11}{'p99 plain':>10}"
          f"{'added p50 plain/stream':>24}{'added p99':>10}{'rps c=' + str(args.concurrency):>10}"
          f"{'vs direct':>10}{'RSS MiB':>9}")
    print("-" * 107)
    added: dict[str, tuple[float, float, float]] = {}
    for name in sorted({n for n, _ in seq}, key=lambda n: (
            ORDER.index(n) if n in ORDER else ORDER.index("baseline"), n)):
        plain, stream = seq[(name, False)], seq[(name, True)]
        row = (percentile(plain, 0.5) - percentile(direct[False], 0.5),
               percentile(stream, 0.5) - percentile(direct[True], 0.5),
               percentile(plain, 0.99) - percentile(direct[False], 0.99))
        added[name] = row
        extra = "—" if name == "direct" else f"{row[0]:.2f} / {row[1]:.2f} ms"
        extra_p99 = "—" if name == "direct" else f"{row[2]:.2f} ms"
        memory = f"{rss[name]:.0f}" if name in rss else "—"
        print(f"{name:<13}{percentile(plain, 0.5):>8.2f}ms{percentile(stream, 0.5):>9.2f}ms"
              f"{percentile(plain, 0.99):>8.2f}ms{extra:>24}{extra_p99:>10}{rps[name]:>10.0f}"
              f"{rps[name] / rps['direct']:>9.0%}{memory:>9}")
    print("\nCPU time per sequential call (user + system, all its threads) — what a busy "
          "machine stretches into latency: " + ", ".join(
              f"{name} {ms:.2f} ms" for name, ms in cpu_ms.items()))
    print(f"CPU time per call at {args.concurrency} concurrent: " + ", ".join(
        f"{name} {ms:.2f} ms" for name, ms in cpu_ms_burst.items()))
    print(f"ledger: {rows} rows for {sent} calls sent through tierd, {ok} ok")
    for floor in (name for name in ORDER if name.startswith("floor-") and name in added):
        own = [t - f for t, f in zip(added["tierd"], added[floor])]
        print(f"context: the floor ({floor}, the server stack alone) adds p50 "
              f"{added[floor][0]:.2f} / {added[floor][1]:.2f} ms, p99 {added[floor][2]:.2f} ms, "
              f"{rps[floor] / rps['direct']:.0%} of direct at c={args.concurrency}; tierd adds "
              f"beyond it p50 {own[0]:.2f} / {own[1]:.2f} ms, p99 {own[2]:.2f} ms, and serves "
              f"{rps['tierd'] / rps[floor]:.0%} of its throughput")
    tierd = added["tierd"]
    ratio = rps["tierd"] / rps["direct"]
    targets = [("added p50 <= 1.0 ms (plain)", tierd[0] <= 1.0, f"{tierd[0]:.2f} ms"),
               ("added p50 <= 1.0 ms (streaming, to the last chunk)", tierd[1] <= 1.0,
                f"{tierd[1]:.2f} ms"),
               ("added p99 <= 3 ms (sequential)", tierd[2] <= 3.0, f"{tierd[2]:.2f} ms"),
               (f">= 80 % of direct throughput at {args.concurrency} concurrent", ratio >= 0.8,
                f"{ratio:.0%}"),
               ("ledger rows = calls, all ok", rows == sent and ok == sent,
                f"{rows} rows, {ok} ok, {sent} calls")]
    for name, met, figure in targets:
        print(f"target {name}: {'met' if met else 'MISSED'} ({figure})")
    return 0 if all(met for _, met, _ in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
