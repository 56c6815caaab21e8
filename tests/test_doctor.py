"""`tierd doctor`: it passes on a fresh install here, and names the fix for each planted
fault (a missing key, an unreachable Ollama host, a read-only state folder)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from tests.conftest import free_port, run_tierd
from tests.ollama_test_server import OllamaTestServer
from tests.test_hosts import FakeNVML
from tierd.doctor.service import check_llama_cpp
from tierd.hosts.seams import Seams

GiB = 1024**3
NAMES = ["python", "sqlite driver", "sqlite-vec", "llama.cpp", "nvml", "config", "state folder",
         "free disk"]


def doctor(config: Path, *args: str, user: int | None = None):
    return run_tierd("--config", str(config), "doctor", *args, user=user)


def lines_by_name(stdout: str) -> dict[str, str]:
    found = {}
    for line in stdout.splitlines():
        for name in sorted(NAMES + ["key cloudy", "ollama box"], key=len, reverse=True):
            if line[6:].startswith(name + " "):
                found[name] = line
                break
    return found


def test_doctor_passes_on_a_fresh_install(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\n')
    result = doctor(config)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = lines_by_name(result.stdout)
    assert set(lines) == set(NAMES)
    assert all(line.startswith(("ok  ", "WARN")) for line in lines.values())
    assert "sqlite-vec" in lines and "v0.1.9" in lines["sqlite-vec"]
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700  # made private, as tierd would
    report = json.loads(doctor(config, "--json").stdout)
    assert report["ok"] is True and [c["name"] for c in report["checks"]] == NAMES


def test_doctor_names_the_fix_for_each_planted_fault():
    # Root writes anywhere, so the read-only folder is checked as nobody when we are root, in a
    # folder of our own that nobody may enter (pytest's tmp_path is private to root).
    user = 65534 if os.geteuid() == 0 else None
    with tempfile.TemporaryDirectory() as folder:
        Path(folder).chmod(0o755)
        state = Path(folder) / "state"
        state.mkdir(mode=0o500)
        config = Path(folder) / "config.toml"
        config.write_text(
            f'state_dir = "{state}"\n'
            f'[[hosts]]\nname = "local"\n'
            f'[[hosts]]\nname = "box"\nruntime = "ollama"\nurl = "http://127.0.0.1:{free_port()}"\n'
            'memory_budget = "4GiB"\n'
            '[[providers]]\nname = "cloudy"\nbase_url = "https://api.example.invalid/v1"\n'
            'api_key_env = "TIERD_DOCTOR_MISSING_KEY"\nmodels = ["gpt-4o-mini"]\n')
        config.chmod(0o644)
        env_key = os.environ.pop("TIERD_DOCTOR_MISSING_KEY", None)
        try:
            result = doctor(config, user=user)
        finally:
            if env_key is not None:
                os.environ["TIERD_DOCTOR_MISSING_KEY"] = env_key
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = lines_by_name(result.stdout)
    assert lines["key cloudy"].startswith("FAIL")
    assert "TIERD_DOCTOR_MISSING_KEY is not set" in lines["key cloudy"]
    assert "fix: export TIERD_DOCTOR_MISSING_KEY=..." in lines["key cloudy"]
    assert lines["ollama box"].startswith("FAIL") and "cannot be reached" in lines["ollama box"]
    assert "fix: start Ollama there (`ollama serve`), or correct hosts[1].url" \
        in lines["ollama box"]
    assert lines["state folder"].startswith("FAIL") and "is not writable" in lines["state folder"]
    assert f"fix: chmod u+w {state}" in lines["state folder"]
    # The checks that have nothing wrong still pass.
    assert lines["sqlite-vec"].startswith("ok") and lines["config"].startswith("ok")


def test_doctor_reports_a_reachable_ollama_and_its_version(tmp_path):
    with OllamaTestServer() as ollama:
        config = tmp_path / "config.toml"
        config.write_text(f'state_dir = "{tmp_path / "state"}"\n'
                          f'[[hosts]]\nname = "box"\nruntime = "ollama"\nurl = "{ollama.url}"\n'
                          'memory_budget = "4GiB"\n')
        result = doctor(config)
    assert result.returncode == 0, result.stdout
    line = lines_by_name(result.stdout)["ollama box"]
    assert line.startswith("ok") and "Ollama 0.0.0-tierd-test" in line


def test_a_cpu_only_llama_cpp_on_a_gpu_machine_warns_with_the_install_to_run():
    nvml = FakeNVML([("NVIDIA GeForce RTX 4060 Ti", 16 * GiB, 0)])
    seams = Seams(nvml=lambda: nvml, apple_silicon=lambda: False)
    cpu = check_llama_cpp(seams, supports_offload=lambda: False)
    assert cpu.status == "warn" and "nvidia GPU" in cpu.detail
    assert cpu.fix.startswith("TIERD_LLAMA_BACKEND=cuda scripts/install")
    cuda = check_llama_cpp(seams, supports_offload=lambda: True)
    assert cuda.status == "ok" and "GPU offload: yes" in cuda.detail
    apple = check_llama_cpp(Seams(nvml=lambda: None, apple_silicon=lambda: True),
                            supports_offload=lambda: False)
    assert apple.fix.startswith("TIERD_LLAMA_BACKEND=metal")
