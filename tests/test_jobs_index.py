"""The index-rebuild job with the real MiniLM model: `tierd jobs run` in a real daemon, then
`GET /search` finds the right file; the same job without a daemon; summaries from the real
Gemma 270M; bad input answered with clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest

from tests.conftest import Daemon, free_port, make_state_dir, run_tierd
from tierd.app import open_tierd
from tierd.config import parse_text
from tierd.index.service import search_index
from tierd.jobs.service import run_job

CORPUS = Path(__file__).parent / "index_corpus"
FILES = ("bicycle_repair.md", "password_hashing.py", "tax_deadlines.md")


def corpus(root: Path, files=FILES) -> Path:
    folder = root / "notes"
    folder.mkdir()
    for name in files:
        shutil.copy(CORPUS / name, folder / name)
    return folder


def config_text(state: Path, notes: Path, extra: str = "", summarize: bool = False) -> str:
    return (f'state_dir = "{state}"\n{extra}'
            f'[index]\nsummarize = {str(summarize).lower()}\n'
            f'[[index.sources]]\nname = "notes"\npath = "{notes}"\n')


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, packaged_models_dir):
    root = tmp_path_factory.mktemp("jobs-daemon")
    state = make_state_dir(root, packaged_models_dir)
    port = free_port()
    config = root / "config.toml"
    # server.listen names the daemon's port so the CLI verbs find it.
    config.write_text(config_text(state, corpus(root),
                                  f'[server]\nlisten = "127.0.0.1:{port}"\n'))
    d = Daemon(config, port, root / "daemon.log")
    yield d
    d.stop()


@pytest.fixture(scope="module")
def indexed(daemon):
    done = run_tierd("--config", str(daemon.config_path), "jobs", "run", "index-rebuild")
    assert done.returncode == 0, done.stderr + done.stdout
    return done


def test_jobs_run_goes_to_the_daemon_and_prints_counts(indexed, daemon):
    assert "started in the daemon at " + daemon.url in indexed.stdout
    assert "index-rebuild run 1: ok" in indexed.stdout
    assert "files indexed: 3" in indexed.stdout
    history = run_tierd("--config", str(daemon.config_path), "jobs", "history", "--json")
    [run] = json.loads(history.stdout)
    assert (run["job"], run["trigger"], run["status"]) == ("index-rebuild", "manual", "ok")
    assert run["counts"]["files_indexed"] == 3 and run["counts"]["chunks_embedded"] >= 3


def test_search_over_http_finds_the_right_file(indexed, daemon):
    for query, expected in (("how do I fix a punctured tyre", "bicycle_repair.md"),
                            ("store user passwords safely", "password_hashing.py"),
                            ("when must the income tax return be filed", "tax_deadlines.md")):
        found = httpx.get(f"{daemon.url}/search", params={"q": query, "k": 3}).json()
        assert found["model"] == "embedded:local:packaged:all-minilm"
        assert found["hits"][0]["path"] == expected, found
        assert found["hits"][0]["source"] == "notes"


def test_search_explain_shows_each_lists_rank_and_the_fused_score(indexed, daemon):
    found = httpx.get(f"{daemon.url}/search",
                      params={"q": "hash_password", "k": 2, "explain": "true"}).json()
    top = found["hits"][0]
    assert top["path"] == "password_hashing.py"
    assert top["explain"]["keyword_rank"] == 1 and top["explain"]["vector_rank"] >= 1
    assert top["explain"]["fused_score"] == top["score"]
    plain = httpx.post(f"{daemon.url}/search", json={"q": "hash_password", "k": 2}).json()
    assert "explain" not in plain["hits"][0]
    cli = run_tierd("--config", str(daemon.config_path), "search", "--explain", "-k", "1",
                    "hash_password")
    assert cli.returncode == 0, cli.stderr
    assert "notes:password_hashing.py:" in cli.stdout
    assert "keyword #1 (" in cli.stdout and "vector #" in cli.stdout and "fused " in cli.stdout
    assert "name 1.00" in cli.stdout  # the query is the definition's name
    bad = httpx.get(f"{daemon.url}/search", params={"q": "tyre", "explain": "maybe"})
    assert bad.status_code == 400 and "explain" in bad.json()["error"]["message"]


def test_index_status_says_what_is_indexed_with_what(indexed, daemon):
    status = httpx.get(f"{daemon.url}/index/status").json()
    assert status["files"] == 3 and status["chunks"] >= 3 and status["summaries"] == 0
    assert status["active_model"] == status["configured_model_id"] \
        == "embedded:local:packaged:all-minilm"
    assert status["models"][0]["dims"] == 384
    assert status["last_run"]["stats"]["files_indexed"] == 3


def test_jobs_list_over_http_and_cli(indexed, daemon):
    [job] = httpx.get(f"{daemon.url}/jobs").json()["jobs"]
    assert (job["name"], job["cron"], job["enabled"]) == ("index-rebuild", "0 4 * * *", True)
    assert job["next_run"] and job["last_run"]["status"] == "ok"
    listed = run_tierd("--config", str(daemon.config_path), "jobs", "list")
    assert listed.returncode == 0
    assert "index-rebuild" in listed.stdout and "0 4 * * *" in listed.stdout


def test_unknown_job_is_404_naming_the_known_ones(daemon):
    answer = httpx.post(f"{daemon.url}/jobs/nightly-backup/run")
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == \
        "unknown job 'nightly-backup' (known jobs: index-rebuild)"
    cli = run_tierd("--config", str(daemon.config_path), "jobs", "run", "nightly-backup")
    assert cli.returncode == 1 and "unknown job 'nightly-backup'" in cli.stderr


@pytest.mark.parametrize("params, message", [
    ({"q": ""}, "the search query is empty"),
    ({"q": "   "}, "the search query is empty"),
    ({"q": "x" * 10_000}, "the search query is 10000 characters long; the limit is 4000"),
    ({"q": "tyre", "k": 0}, "k must be between 1 and 100, not 0"),
    ({"q": "tyre", "kind": "poem"}, "kind must be one of chunk, summary, not 'poem'"),
    ({}, "query.q: required field is missing"),
])
def test_bad_searches_are_400_with_a_message(daemon, params, message):
    answer = httpx.get(f"{daemon.url}/search", params=params)
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == message


def test_a_100_kb_query_is_400_not_a_crash(daemon):
    # Too long for any client's URL; POST carries it as JSON.
    answer = httpx.post(f"{daemon.url}/search", json={"q": "tyre " * 20_000, "k": 3})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == \
        "the search query is 99999 characters long; the limit is 4000"
    assert httpx.post(f"{daemon.url}/search", json={"q": "tyre", "k": 1}).status_code == 200


def test_a_missing_source_fails_the_run_with_a_clear_error(tmp_path, packaged_models_dir):
    state = make_state_dir(tmp_path, packaged_models_dir)
    config = tmp_path / "config.toml"
    config.write_text(config_text(state, tmp_path / "no-such-folder"))
    done = run_tierd("--config", str(config), "jobs", "run", "index-rebuild")
    assert done.returncode == 1
    assert f"error: source 'notes': {tmp_path / 'no-such-folder'} does not exist" in done.stdout
    history = run_tierd("--config", str(config), "jobs", "history", "index-rebuild", "--json")
    [run] = json.loads(history.stdout)
    assert run["status"] == "error" and run["counts"]["files_seen"] == 0


def test_a_bad_cron_is_a_one_line_config_error(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'state_dir = "{tmp_path}"\n[[jobs]]\nname = "nightly"\n'
                      'cron = "0 25 * * *"\n')
    done = run_tierd("--config", str(config), "jobs", "list")
    assert done.returncode == 1
    assert done.stderr.startswith("tierd: jobs[0].cron: '0 25 * * *' is not a valid cron "
                                  "expression")
    assert done.stderr.count("\n") == 1


def test_summaries_are_written_by_the_local_model_and_searchable(tmp_path, packaged_models_dir):
    state = make_state_dir(tmp_path, packaged_models_dir)
    notes = corpus(tmp_path, ("bicycle_repair.md",))
    app = open_tierd(parse_text(config_text(state, notes, summarize=True)))
    run = run_job(app, "index-rebuild")
    assert run["status"] == "ok", run
    assert run["counts"]["summaries_made"] == 1
    found = search_index(app, "bicycle", 5, kind="summary")
    [hit] = found["hits"]
    assert (hit["path"], hit["kind"]) == ("bicycle_repair.md", "summary")
    assert hit["snippet"].strip()
