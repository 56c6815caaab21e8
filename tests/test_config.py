"""The config file: lookup order, defaults, and one clear line per problem."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.conftest import run_tierd
from tierd.config import Config, load_config, parse_text, to_dict, to_toml
from tierd.errors import ConfigError
from tierd.sizes import parse_size


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_text(text, "c.toml")
    return info.value.problems


def test_no_file_gives_working_defaults():
    config = load_config()
    assert config.source == "built-in defaults"
    assert [h.runtime for h in config.hosts] == ["embedded"]
    assert {m.name for m in config.models} == {"packaged:gemma3-270m", "packaged:all-minilm"}
    assert config.server.listen == "127.0.0.1:11500"


def test_lookup_order(tmp_path, monkeypatch):
    home_config = Path(os.environ["HOME"]) / ".config" / "tierd" / "config.toml"
    home_config.parent.mkdir(parents=True)
    home_config.write_text('state_dir = "/from/home"\n')
    try:
        assert load_config().state_dir == "/from/home"
        explicit = tmp_path / "x.toml"
        explicit.write_text('state_dir = "/from/env"\n')
        monkeypatch.setenv("TIERD_CONFIG", str(explicit))
        assert load_config().state_dir == "/from/env"
        monkeypatch.setenv("TIERD_CONFIG", str(tmp_path / "missing.toml"))
        with pytest.raises(ConfigError, match="missing.toml: no such file"):
            load_config()
    finally:
        home_config.unlink()


@pytest.mark.parametrize("text, expected", [
    ("16GiB", 16 * 1024**3), ("9GB", 9 * 1000**3), ("512MiB", 512 * 1024**2),
    (1073741824, 1073741824), ("1.5GiB", 1536 * 1024**2), ("0", 0),
])
def test_sizes(text, expected):
    assert parse_size(text) == expected


def test_the_issue_example_message():
    text = '[[hosts]]\nname = "a"\n[[hosts]]\nname = "b"\nmemory_budget = "16 GB"\n'
    assert problems_of(text) == ['hosts[1].memory_budget: "16 GB" is not a size (try "16GiB")']


def test_negative_sizes_are_refused():
    assert problems_of('[[hosts]]\nreserve = -5\n') == [
        "hosts[0].reserve: -5 is negative (a size is 0 or more bytes)"]
    assert problems_of('[[hosts]]\nreserve = "-2GiB"\n') == [
        'hosts[0].reserve: "-2GiB" is negative (a size is 0 or more bytes)']


def test_unknown_keys_suggest_the_right_one():
    assert problems_of('[server]\nlisten_on = "127.0.0.1:1"\n') == [
        "server.listen_on: unknown key (did you mean 'listen'?)"]
    assert problems_of('[[hosts]]\nmemory_budgte = "1GiB"\n') == [
        "hosts[0].memory_budgte: unknown key (did you mean 'memory_budget'?)"]
    assert problems_of("colour = 1\n") == ["colour: unknown key"]


def test_wrong_types_each_named():
    problems = problems_of(
        '[server]\nqueue_limit = "many"\n[[hosts]]\nruntime = "vllm"\n'
        '[[models]]\nname = "m"\npinned = "yes"\n'
    )
    assert problems == [
        "server.queue_limit: expected a whole number, got a string ('many')",
        'hosts[0].runtime: "vllm" is not one of "embedded", "ollama"',
        "models[0].pinned: expected true or false, got a string ('yes')",
    ]


def test_missing_required_and_cross_references():
    assert problems_of("[[models]]\ncontext_length = 5\n") == [
        "models[0].name: required key is missing"
    ]
    assert problems_of('[[models]]\nname = "m"\nhost = "gpu-bx"\n[[hosts]]\nname = "gpu-box"\n'
                       'runtime = "ollama"\nurl = "http://127.0.0.1:11434"\n') == [
        "models[0].host: no host is named 'gpu-bx' (did you mean 'gpu-box'?)"]
    assert problems_of('[[hosts]]\nruntime = "ollama"\n') == [
        'hosts[0].url: an ollama host needs its URL (e.g. "http://127.0.0.1:11434")']


def test_toml_syntax_error_names_line_and_column():
    (line,) = problems_of('[server]\nlisten = "127.0.0.1:1"\nqueue_limit = = 3\n')
    assert line.startswith("c.toml: TOML syntax error:")
    assert "line 3, column" in line


def test_show_round_trips_and_masks_secrets():
    config = parse_text('[server]\ntoken = "s3cret-token"\n', "c.toml")
    shown = to_toml(to_dict(config))
    assert "s3cret-token" not in shown and 'token = "********"' in shown
    revealed = parse_text(to_toml(to_dict(config, reveal=True)), "again")
    assert revealed == parse_text('[server]\ntoken = "s3cret-token"\n', "again")
    assert parse_text(to_toml(to_dict(Config())), "d") == Config(source="d")


# ---- the CLI face: one line per problem, exit 1, never a traceback --------------------------

def check(path: Path, user: int | None = None):
    result = run_tierd("config", "check", str(path), user=user)
    assert "Traceback" not in result.stderr
    return result


def test_check_bad_files(tmp_path):
    cases = {
        "missing.toml": (None, "missing.toml: no such file"),
        "empty.toml": ("  \n", "empty.toml: the file is empty"),
        "binary.toml": (b"\xff\xfe\x00", "binary.toml: not UTF-8 text"),
        "syntax.toml": ("a = [1,\n", "syntax.toml: TOML syntax error"),
        "types.toml": ('state_dir = 3\n', "state_dir: expected a string, got a number (3)"),
        "reserve.toml": ('[[hosts]]\nreserve = "100TiB"\n',
                         "hosts[0].reserve: 100.0TiB is not less than the RAM"),
        "budget.toml": ('[[hosts]]\nmemory_budget = "100TiB"\n',
                        "hosts[0].memory_budget: 100.0TiB is more than the device has"),
        "remote.toml": ('[[hosts]]\nname = "gpu"\nruntime = "ollama"\nurl = "http://10.9.9.9:11434"\n',
                        "hosts[0].memory_budget: 'gpu' is remote"),
    }
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content)
        result = check(path)
        assert result.returncode == 1, (name, result.stderr)
        assert expected in result.stderr, (name, result.stderr)
        assert result.stderr.count("\n") == 1, (name, result.stderr)
    folder = check(tmp_path)
    assert folder.returncode == 1 and "is a folder, not a TOML file" in folder.stderr


def test_check_unreadable_file():
    # root reads anything, so check as an unprivileged user when we are root. pytest's own
    # temporary folders are private to root; a fresh folder of our own lets that user reach
    # the files, so only each file's mode decides.
    user = 65534 if os.geteuid() == 0 else None
    with tempfile.TemporaryDirectory() as folder:
        Path(folder).chmod(0o755)
        readable = Path(folder) / "readable.toml"
        readable.write_text('state_dir = "/x"\n')
        readable.chmod(0o644)
        secret = Path(folder) / "secret.toml"
        secret.write_text('state_dir = "/x"\n')
        secret.chmod(0o000)
        assert check(readable, user=user).returncode == 0
        result = check(secret, user=user)
    assert result.returncode == 1
    assert "secret.toml: cannot be read (permission denied)" in result.stderr


def test_check_good_file_and_show(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text('[server]\ntoken = "abc"\n[[hosts]]\nname = "local"\nreserve = "2GiB"\n')
    result = check(path)
    assert result.returncode == 0 and "ok (1 host(s), 2 model(s))" in result.stdout
    shown = run_tierd("--config", str(path), "config", "show")
    assert shown.returncode == 0
    assert 'token = "********"' in shown.stdout and "abc" not in shown.stdout
    assert 'reserve = "2.0GiB"' in shown.stdout


def test_capabilities_are_declared_per_model_and_round_trip():
    text = (
        '[[models]]\nname = "llava:13b"\ncapabilities = ["completion", "vision"]\n'
        '[[providers]]\nname = "router"\nbase_url = "https://example.invalid/v1"\n'
        'api_key_env = "KEY"\n'
        'models = ["gpt-4o-mini", {name = "my-vlm", capabilities = ["completion", "vision"], '
        'context_length = 32000}]\n')
    config = parse_text(text)
    assert config.models[0].capabilities == ("completion", "vision")
    provider = config.providers[0]
    assert provider.model_names == ("gpt-4o-mini", "my-vlm")
    assert provider.declared_models["my-vlm"].context_length == 32000
    assert parse_text(to_toml(to_dict(config))) == config  # `config show` writes it back

    assert problems_of('[[models]]\nname = "m"\ncapabilities = ["sight"]\n') == [
        'models[0].capabilities[0]: "sight" is not one of "completion", "tools", "vision", '
        '"json_schema", "embedding"']
    assert problems_of(text.replace('"my-vlm"', '"gpt-4o-mini"')) == [
        "providers[0].models[1]: 'gpt-4o-mini' is listed more than once"]
    assert problems_of(text.replace("32000", "-1")) == [
        "providers[0].models[1].context_length: -1 is negative"]


def test_every_range_and_reference_in_one_pass():
    """Type errors no longer hide the range and reference checks: one round shows it all."""
    problems = problems_of('''state_dir = ""
[server]
max_body = 0
queue_limit = "many"
max_embedding_inputs = 0
cors_origins = ["evil.example"]
[routing]
cooldown = -1
cache_ttl = -5
[routing.tiers.cheap]
candidates = ["openai/gpt-4o-mimi", "gpt-4o-mimi", "local/packaged:gemma3-27m", "qwen2.5:14b"]
max_wait = -1
[[providers]]
name = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "OPENAI_API_KEY"
models = ["gpt-4o-mini"]
[[budgets.tiers]]
name = "chep"
daily = 1
[[models]]
context_length = 5
[[models]]
name = "m"
host = "nowhere"
''')
    assert problems == [
        "server.queue_limit: expected a whole number, got a string ('many')",
        "models[0].name: required key is missing",
        "models[1].host: no host is named 'nowhere'",
        'state_dir: must name a folder (empty would be whatever folder tierd starts in); '
        'e.g. "~/.local/share/tierd"',
        "server.max_body: 0B is too small: no request fits (at least 1.0KiB; the default is "
        "4MiB)",
        "server.max_embedding_inputs: must be at least 1",
        "server.cors_origins[0]: 'evil.example' is not an origin (write scheme://host[:port], "
        'e.g. "http://localhost:3000")',
        "budgets.tiers[0].name: 'chep' is not a tier (tiers: local, cheap, mid, code, "
        "frontier) (did you mean 'cheap'?); a cap on no tier would cap nothing",
        "routing.cooldown: must be 0 seconds or more",
        "routing.cache_ttl: must be 0 seconds or more",
        "routing.tiers.cheap.max_wait: must be 0 seconds or more",
        "routing.tiers.cheap.candidates[0]: provider 'openai' does not list 'gpt-4o-mimi' in "
        "its models (did you mean 'gpt-4o-mini'?)",
        "routing.tiers.cheap.candidates[1]: no host or provider serves 'gpt-4o-mimi' (did you "
        "mean 'gpt-4o-mini'?)",
        "routing.tiers.cheap.candidates[2]: the embedded host 'local' has no model "
        "'packaged:gemma3-27m' (packaged models, and [[models]] with a path) (did you mean "
        "'local/packaged:gemma3-270m'?)",
    ]
    assert problems_of('state_dir = "state"\n') == [
        "state_dir: 'state' is relative, so it would depend on the folder tierd starts in: "
        "write it from / or ~"]
    assert problems_of("[routing]\ncooldown = nan\n") == [
        "routing.cooldown: nan is not a finite number"]
    # The default chains name cloud models no provider serves yet: not a problem.
    parse_text('[[providers]]\nname = "o"\nbase_url = "http://x/v1"\napi_key_env = "K"\n'
               'models = ["gpt-4o"]\n')
