"""`tierd bench` through the Ollama runtime, over real HTTP to the Ollama test server.

This is the path where the runtime's own timings are Ollama's nanosecond fields: the test server
sends fixed ones, so the rt_* figures must come out exactly.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import state_conn
from tierd.bench.runner import run_generation
from tierd.bench.settings import GenerationSettings
from tierd.bench.stats import summarize
from tierd.bench.store import load_run, save_run
from tierd.bench.target import Target
from tierd.cli import main as cli
from tierd.models.manager import HostSlot, ModelManager
from tierd.runtimes.ollama import OllamaRuntime

sys.path.insert(0, str(Path(__file__).parent))
from ollama_test_server import REPLY_WORDS, OllamaTestServer  # noqa: E402

CHAT = "tinyllama:latest"
EMBED = "nomic-embed-text:latest"

PER_REQUEST = {"ttft_ms", "tpot_ms", "itl_ms", "e2e_ms", "prefill_tps", "decode_tps",
               "rt_prefill_tps", "rt_decode_tps", "rt_total_ms", "rt_load_ms", "prompt_tokens",
               "output_tokens", "decode_bound_pct"}
PER_ROUND = {"requests_per_s", "output_tps", "errors"}


@pytest.fixture
def server():
    with OllamaTestServer() as server:
        server.state.token_delay = 0.002  # spread the chunks so gaps are measurable
        yield server


@pytest.fixture
def target(server):
    runtime = OllamaRuntime("box", server.url)
    manager = ModelManager({"box": HostSlot(runtime, 8 * 1024**3)})
    yield Target(runtime, lambda m: manager.lease(m), lambda m: manager.unload(m),
                 lambda m: manager.request(m),
                 device="NVIDIA GeForce RTX 4060 Ti")
    runtime.close()


def test_every_metric_is_present_and_sane(target, server):
    settings = GenerationSettings(prompt_tokens=40, gen_tokens=6, concurrency=(1, 2), runs=2,
                                  warmup=1)
    run = run_generation(target, CHAT, settings)

    assert run.status == "ok" and run.errors == ()
    assert run.quantization == "Q4_K_M" and run.context_length == 2048
    assert run.row("cold_load_s", 0).summary.p50 > 0
    # 288 GB/s over the 637 MB model.
    assert run.row("decode_bound_tps", 0).summary.p50 == pytest.approx(288e9 / 637e6)
    for level in (1, 2):
        metrics = {r.metric for r in run.rows if r.concurrency == level}
        assert metrics == PER_REQUEST | PER_ROUND
        get = lambda name: run.row(name, level).summary  # noqa: E731
        assert get("ttft_ms").n == 2 * level  # warm-up left out
        assert get("requests_per_s").n == 2
        assert get("ttft_ms").p99 < get("e2e_ms").p50 or get("ttft_ms").mean < get("e2e_ms").mean
        assert get("errors").mean == 0
        # Ollama's own ns timings pass through: 6 tokens in 5 ms, the prompt in 2 ms.
        assert get("rt_decode_tps").p50 == pytest.approx(6 / 0.005)
        assert get("rt_total_ms").p50 == pytest.approx(9.0)
        assert get("rt_load_ms").p50 == pytest.approx(1.0)
        assert get("output_tokens").p50 == 6 == len(REPLY_WORDS[:6])
        # 5 gaps between 6 chunks per request.
        assert get("itl_ms").n == 5 * 2 * level
    # Every request the server saw had its own prompt (no prefix cache helping).
    chats = [body for path, body in server.state.requests if path == "/api/chat"
             and body.get("messages")]
    prompts = [body["messages"][0]["content"] for body in chats]
    assert len(prompts) == (1 + 2) * 1 + (1 + 2) * 2 and len(set(prompts)) == len(prompts)
    # The prompt tokens reported are the server's own count (words + 4) of the measured ones.
    measured_at_1 = [len(p.split()) + 4 for p in prompts[1:3]]
    assert run.row("prompt_tokens", 1).summary == summarize(measured_at_1)


def test_a_runtime_that_dies_midway_keeps_what_was_measured(target, server, tmp_path):
    rounds = []

    def crash_after_two_rounds(done: int) -> None:
        rounds.append(done)
        if len(rounds) == 2:  # the warm-up round and one measured round
            server.state.fail_status = 500

    settings = GenerationSettings(prompt_tokens=30, gen_tokens=4, runs=3, warmup=1)
    run = run_generation(target, CHAT, settings, progress=crash_after_two_rounds)

    assert run.status == "errors"
    errors = run.row("errors", 1).summary
    assert (errors.mean, errors.n) == (2, 3)
    assert run.row("ttft_ms", 1).summary.n == 1  # the round before the crash is kept
    assert len(run.errors) == 1 and run.errors[0].startswith("2x RuntimeUnavailable")

    conn = state_conn(tmp_path / "state.db")
    assert load_run(conn, save_run(conn, run)) == run


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_tierd(monkeypatch, capsys):
    """`tierd ARGS` in this process (the Ollama test server lives here), real exit codes."""
    def run(*args: str, env: dict[str, str]) -> Result:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        capsys.readouterr()
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def write_config(tmp_path: Path, server: OllamaTestServer) -> dict[str, str]:
    config = tmp_path / "config.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        f'[[hosts]]\nname = "box"\nruntime = "ollama"\nurl = "{server.url}"\n'
        f'memory_budget = "1GiB"\n'
        f'[[models]]\nname = "{CHAT}"\n[[models]]\nname = "{EMBED}"\n'
    )
    return {"TIERD_CONFIG": str(config)}


def test_the_cli_runs_stores_lists_and_compares(server, tmp_path, run_tierd):
    env = write_config(tmp_path, server)
    common = ["bench", "run", CHAT, EMBED, "--prompt-tokens", "30", "--gen-tokens", "4",
              "--runs", "2", "--warmup", "1", "--batch-sizes", "1,4"]
    first = run_tierd(*common, "--csv", str(tmp_path / "out.csv"), env=env)
    assert first.returncode == 0, first.stderr
    assert f"run 1: {CHAT} on box" in first.stdout and f"run 2: {EMBED} on box" in first.stdout
    assert "batch 4" in first.stdout and "ttft_ms" in first.stdout
    csv_lines = (tmp_path / "out.csv").read_text().splitlines()
    assert csv_lines[0].startswith("run_id,started_at,host")
    assert any(",ttft_ms,ms," in line for line in csv_lines)

    second = run_tierd(*common[:3], "--prompt-tokens", "30", "--gen-tokens", "4", "--runs", "2",
                       "--json", "-", env=env)
    assert second.returncode == 0, second.stderr
    [stored] = json.loads(second.stdout)
    assert stored["id"] == 3 and stored["status"] == "ok"
    assert {r["metric"] for r in stored["results"]} >= {"ttft_ms", "decode_tps", "cold_load_s"}

    history = run_tierd("bench", "history", CHAT, env=env)
    assert history.returncode == 0, history.stderr
    assert [line.split()[0] for line in history.stdout.splitlines()[2:]] == ["3", "1"]

    compare = run_tierd("bench", "compare", "1", "3", env=env)
    assert compare.returncode == 0, compare.stderr
    assert "B/A" in compare.stdout and "ttft_ms" in compare.stdout


@pytest.mark.parametrize("args, message", [
    (["nosuch:model"], "unknown model 'nosuch:model'"),
    ([CHAT, "--host", "elsewhere"], "unknown host 'elsewhere'"),
    ([CHAT, "--runs", "0"], "--runs: 0 is not allowed"),
    ([CHAT, "--gen-tokens", "-5"], "--gen-tokens: -5 is not allowed"),
    ([CHAT, "--concurrency", "1,x"], "--concurrency: 'x' in '1,x' is not a whole number"),
    ([CHAT, "--prompt-tokens", "3000"], "3128 tokens do not fit tinyllama:latest's context"),
])
def test_bad_input_fails_clearly_and_stores_nothing(server, tmp_path, run_tierd, args,
                                                   message):
    env = write_config(tmp_path, server)
    result = run_tierd("bench", "run", *args, env=env)
    assert result.returncode == 1
    assert message in result.stderr
    history = run_tierd("bench", "history", env=env)
    assert "no benchmark runs stored yet" in history.stdout


def test_compare_of_a_missing_run_says_so(server, tmp_path, run_tierd):
    result = run_tierd("bench", "compare", "1", "2", env=write_config(tmp_path, server))
    assert result.returncode == 1
    assert "no benchmark run has id 1" in result.stderr
