"""What one day of the users' workload costs routed by tierd, against everything on the frontier.

    python benchmarks/seed_workload_cost.py [--seed N]

The day (DESIGN.md): the 04:00 index rebuild (200 embedding calls, 15 repo summaries), 100
cron extraction calls, and a handful of human-read calls (3 code generations, 1 long-form
piece). Prompt and reply sizes are assumptions, chosen so that the all-frontier day lands near
the ~$50 the users reported (it comes to about $42 at Opus 4.1's list price): a summary reads
~20k tokens of a repo's changes and writes
~1.2k; an extraction reads a ~20k-token page or mail thread and writes ~600 tokens of JSON;
code reads ~6k and writes ~1.5k; the long-form piece reads ~4k and writes ~3k.

Both runs go through a real `tierd serve` over HTTP, every request with `model: "auto"` so the
classifier picks the task (the frontier run names the frontier model instead):
- cloud providers ("anthropic", "openai") are the OpenAI-compatible stand-in from tests/,
  which reports usage like a tokenizer would (4 characters a token); the ledger prices that
  usage with the real price table (tierd.costs.prices);
- the local host is the users' Mac mini running Qwen 2.5 14B (32k context) and
  nomic-embed-text behind Ollama, played by the Ollama stand-in from tests/ (local calls cost
  $0 whatever answers them; this box cannot run a 14B model).
Embeddings have no frontier-model equivalent, so the frontier run leaves them out of its bill
(it only makes the baseline smaller, the comparison conservative).

Prints both costs, the ratio, the reduction and the share of calls per tier; exits 1 when the
reduction is under 99 %.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from tests.conftest import start_daemon  # noqa: E402
from tests.ollama_test_server import FakeModel, OllamaTestServer  # noqa: E402
from tests.openai_test_server import start_openai_server  # noqa: E402
from tierd.costs.ledger import Ledger  # noqa: E402
from tierd.db import connect  # noqa: E402

FRONTIER = "anthropic/claude-opus-4.1"
QWEN = FakeModel("qwen2.5:14b", arch="qwen2", family="qwen2", capabilities=("completion",),
                 size=9_000_000_000, block_count=48, head_count=40, head_count_kv=8,
                 embedding_length=5120, context_length=32768, parameter_size="14.8B")
EMBEDDER = "nomic-embed-text:latest"
KEY = "TIERD_BENCH_KEY"

_WORDS = ("repository commit branch module handler request response value record field "
          "customer order amount payment shipment address status total line note page "
          "section author reviewer change release version service config port host").split()


def filler(rng: random.Random, tokens: int) -> str:
    """About `tokens` tokens (4 characters each) of plain words, in 80-character lines."""
    words, size = [], 0
    while size < tokens * 4:
        word = rng.choice(_WORDS)
        words.append(word)
        size += len(word) + 1
    text = " ".join(words)
    return "\n".join(text[i:i + 80] for i in range(0, len(text), 80))


def the_day(rng: random.Random) -> list[dict]:
    """The requests of one day, in the order they arrive."""
    day = []
    for n in range(200):
        day.append({"kind": "embed", "input": [filler(rng, 350)]})
    for n in range(15):
        day.append({"kind": "chat", "max_tokens": 1200, "text":
                    f"Summarize what changed in repo-{n} since yesterday for the morning "
                    f"digest:\n{filler(rng, 20_000)}"})
    for n in range(100):
        day.append({"kind": "chat", "max_tokens": 600, "text":
                    "Extract the sender, date, invoice number, line items and total as JSON "
                    f"from this mail thread:\n{filler(rng, 20_000)}"})
    for n in range(3):
        day.append({"kind": "chat", "max_tokens": 1500, "text":
                    f"Write a Python function for step {n} of the importer, with tests, "
                    f"following this module:\n{filler(rng, 6_000)}"})
    day.append({"kind": "chat", "max_tokens": 3000, "text":
                "Write a blog post for our users about this quarter's release, from these "
                f"notes:\n{filler(rng, 4_000)}"})
    return day


def config(cloud_port: int, ollama_url: str, keys: Path) -> str:
    def provider(name: str, models: list[str]) -> str:
        quoted = ", ".join(f'"{m}"' for m in models)
        return (f'[[providers]]\nname = "{name}"\nbase_url = "http://127.0.0.1:{cloud_port}/v1"\n'
                f'api_key_env = "{KEY}"\nmodels = [{quoted}]\n')

    return (f'env_file = "{keys}"\n'
            f'[[hosts]]\nname = "mini"\nruntime = "ollama"\nurl = "{ollama_url}"\n'
            'memory_budget = "18GiB"\n'  # 75 % of the Mac mini's 24 GB (DESIGN.md)
            f'[[models]]\nname = "{QWEN.name}"\nhost = "mini"\ncontext_length = 32768\n'
            f'[[models]]\nname = "{EMBEDDER}"\nhost = "mini"\ncontext_length = 2048\n'
            + provider("anthropic", ["claude-haiku-4.5", "claude-sonnet-4.5", "claude-opus-4.1"])
            + provider("openai", ["gpt-4o-mini", "gpt-5-codex"])
            + '[routing.tiers.local]\nmax_wait = 600\n'
            f'candidates = ["mini/{QWEN.name}", "mini/{EMBEDDER}", "anthropic/claude-haiku-4.5"]\n'
            '[routing.tiers.cheap]\ncandidates = ["anthropic/claude-haiku-4.5", '
            '"openai/gpt-4o-mini"]\n'
            '[routing.tiers.mid]\ncandidates = ["anthropic/claude-sonnet-4.5"]\n'
            '[routing.tiers.code]\ncandidates = ["openai/gpt-5-codex", '
            '"anthropic/claude-sonnet-4.5"]\n'
            f'[routing.tiers.frontier]\ncandidates = ["{FRONTIER}"]\n')


def replay(root: Path, extra_config: str, day: list[dict], chat_model: str) -> dict:
    """Run the day through a fresh daemon; the ledger's totals and calls per tier."""
    empty_models = root / "models"
    empty_models.mkdir(parents=True)
    daemon = start_daemon(root, empty_models, extra_config)
    try:
        with httpx.Client(base_url=daemon.url, timeout=600) as client:
            for request in day:
                if request["kind"] == "embed":
                    response = client.post("/v1/embeddings", json={
                        "model": "task:embed", "input": request["input"]})
                else:
                    response = client.post("/v1/chat/completions", json={
                        "model": chat_model, "max_tokens": request["max_tokens"],
                        "messages": [{"role": "user", "content": request["text"]}]})
                if response.status_code != 200:
                    raise SystemExit(f"request failed: {response.status_code} {response.text}")
    finally:
        daemon.stop()
    ledger = Ledger(connect(root / "state" / "state.db"))
    summary = ledger.summary("day")
    tiers = {row["tier"]: row for row in ledger.breakdown("tier", "day")}
    failed = ledger.conn.execute(
        "SELECT fallback_reason, COUNT(*), MIN(error) FROM calls WHERE status != 'ok' "
        "GROUP BY fallback_reason").fetchall()
    ledger.conn.close()
    return {"summary": summary, "tiers": tiers, "failed": failed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    day = the_day(random.Random(args.seed))
    cloud = start_openai_server(reply_tokens=1_000_000)
    with OllamaTestServer() as ollama, tempfile.TemporaryDirectory() as scratch:
        ollama.state.installed[QWEN.name] = QWEN
        keys = Path(scratch) / "keys.env"
        keys.write_text(f"{KEY}={cloud.api_key}\n")
        extra = config(cloud.port, ollama.url, keys)
        routed = replay(Path(scratch) / "routed", extra, day, "auto")
        frontier = replay(Path(scratch) / "frontier", extra, day, FRONTIER)
    cloud.stop()

    routed_usd = routed["summary"]["cost_usd"]
    frontier_usd = frontier["summary"]["cost_usd"]
    calls = sum(row["calls"] for row in routed["tiers"].values())
    print(f"one day: {len(day)} requests ({sum(r['kind'] == 'embed' for r in day)} embeddings, "
          f"{sum(r['kind'] == 'chat' for r in day)} chat)")
    print(f"everything on {FRONTIER}: ${frontier_usd:.2f}")
    print(f"routed by tierd:            ${routed_usd:.4f}")
    print(f"ratio routed/frontier:      {routed_usd / frontier_usd:.4f} "
          f"({100 * (1 - routed_usd / frontier_usd):.2f} % less)")
    print("routed calls per tier:")
    for tier, row in sorted(routed["tiers"].items(), key=lambda kv: -kv[1]["calls"]):
        print(f"  {tier:9} {row['calls']:4} calls ({100 * row['calls'] / calls:5.1f} %)  "
              f"${row['cost_usd']:.4f}")
    fallbacks = routed["summary"]["fallbacks"]
    print(f"fallbacks: {fallbacks}, errors: {routed['summary']['errors']}")
    for reason, count, example in routed["failed"]:
        print(f"  {count} failed attempts ({reason}), e.g. {example}")
    return 0 if routed_usd <= 0.01 * frontier_usd else 1


if __name__ == "__main__":
    raise SystemExit(main())
