"""`tierd service`: the systemd units pass the real `systemd-analyze verify`, the launchd plist
parses with plistlib, and install / uninstall / status work on a temporary home folder.

Needs systemd's tools (Debian package `systemd`: systemd-analyze, systemctl) but no running
systemd: `systemctl --user enable|disable|is-enabled` work on the unit files alone.
"""

from __future__ import annotations

import os
import plistlib
import re
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

import pytest

import tierd
from tierd.cli import main as cli
from tierd.system_service.install import (
    install_service,
    plan_service,
    service_status,
    uninstall_service,
)
from tierd.system_service.render import ServiceError, systemd_quote

REPO = Path(__file__).resolve().parents[1]
SYSTEMD_RUNNING = Path("/run/systemd/system").is_dir()


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: these tests need Debian's `systemd` package "
                    "(apt-get install systemd); no running systemd is needed")
    return path


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh home folder with a space in its name, and no config found outside it."""
    home = tmp_path / "home dir"
    home.mkdir()
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("HOME", str(home))
    # systemctl --user and systemd-analyze --user need a runtime folder, not a running manager.
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    for name in ("TIERD_CONFIG", "XDG_CONFIG_HOME", "SUDO_USER"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def run_cli(capsys):
    """Run the real `tierd` command line in-process; returns (exit code, stdout, stderr)."""
    def run(*argv: str) -> tuple[int, str, str]:
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _config(folder: Path, text: str, name: str = "my config%.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def _directives(unit: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def _verify(unit_text: str, folder: Path, user: bool = False) -> subprocess.CompletedProcess:
    unit = folder / "tierd.service"
    unit.write_text(unit_text)
    argv = [_tool("systemd-analyze"), *(["--user"] if user else []), "verify", str(unit)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def _odd_python(tmp_path: Path) -> Path:
    """The running interpreter behind a path that needs quoting and escaping in ExecStart=."""
    folder = tmp_path / "py dir %i $HOME"
    folder.mkdir()
    link = folder / "python"
    link.symlink_to(sys.executable)
    return link


# ---------------------------------------------------------------------------------------------
# The systemd units


def test_system_unit_passes_systemd_analyze_verify(home, tmp_path):
    config = _config(tmp_path, 'state_dir = "/var/lib/tierd"\n')
    python = _odd_python(tmp_path)
    plan = plan_service("system", config, manager="systemd", python=python)
    unit = plan.content.decode()

    done = _verify(unit, tmp_path)

    # verify warns about unknown keys and bad values but still exits 0: demand silence too.
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
    assert _directives(unit)["ExecStart"] == [
        # The program path gets no $VARIABLE expansion, so its `$` stays single.
        '"' + str(python.parent).replace("%", "%%") + '/python" -m tierd '
        '--config "' + str(config).replace("%", "%%") + '" serve'
    ]
    assert "@" not in unit.replace("between @ signs", "")


def test_verify_rejects_a_unit_whose_python_is_missing(home, tmp_path):
    config = _config(tmp_path, 'state_dir = "/var/lib/tierd"\n')
    missing = tmp_path / "gone" / "python"
    unit = plan_service("system", config, manager="systemd", python=missing).content.decode()

    done = _verify(unit, tmp_path)

    assert done.returncode != 0
    assert f"Command {missing} is not executable" in done.stderr


def test_user_unit_passes_systemd_analyze_verify(home, tmp_path):
    plan = plan_service("user", manager="systemd", python=_odd_python(tmp_path))

    done = _verify(plan.content.decode(), tmp_path, user=True)

    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_system_unit_is_hardened_but_keeps_the_gpu_and_home_readable(home, tmp_path):
    config = _config(tmp_path, 'state_dir = "/var/lib/tierd"\n')
    unit = plan_service("system", config, manager="systemd").content.decode()
    found = {key: values[-1] for key, values in _directives(unit).items()}

    assert found["User"] == found["Group"] == "tierd"
    assert found["StateDirectory"] == "tierd"
    assert found["NoNewPrivileges"] == "yes"
    assert found["ProtectSystem"] == "strict"
    assert found["ProtectHome"] == "read-only"
    assert found["PrivateTmp"] == "yes"
    assert found["Restart"] == "on-failure"
    assert found["EnvironmentFile"] == "-/etc/tierd/env"
    assert found["KillSignal"] == "SIGTERM"
    assert int(found["TimeoutStopSec"]) >= 60
    assert found["WantedBy"] == "multi-user.target"
    # Each of these would hide /dev/nvidia* behind a device allow-list (or break CUDA's JIT).
    for gpu_breaker in ("PrivateDevices", "ProtectClock", "DeviceAllow", "DevicePolicy",
                        "MemoryDenyWriteExecute", "DynamicUser"):
        assert gpu_breaker not in found


def test_system_unit_exposure_score_stays_low(home, tmp_path):
    config = _config(tmp_path, 'state_dir = "/var/lib/tierd"\n')
    unit = tmp_path / "tierd.service"
    unit.write_bytes(plan_service("system", config, manager="systemd").content)

    done = subprocess.run([_tool("systemd-analyze"), "security", "--offline=yes", str(unit)],
                          capture_output=True, text=True, timeout=60)

    score = re.search(r"Overall exposure level for tierd.service: ([\d.]+)", done.stdout)
    assert score, done.stdout + done.stderr
    # 10 is an unsandboxed root service; "OK" starts below 5.
    assert float(score.group(1)) < 5.0


def test_user_unit_runs_as_its_user_from_the_default_target(home, tmp_path):
    unit = plan_service("user", manager="systemd").content.decode()
    found = _directives(unit)

    assert "User" not in found
    assert found["WantedBy"] == ["default.target"]
    assert found["EnvironmentFile"] == ["-%h/.config/tierd/env"]
    assert found["ExecStart"] == [f"{systemd_quote(sys.executable, program=True)} "
                                  "-m tierd serve"]


def test_systemd_quote_escapes_what_systemd_would_expand():
    assert systemd_quote("/usr/bin/python3") == "/usr/bin/python3"
    assert systemd_quote("50%") == "50%%"
    assert systemd_quote("$HOME") == "$$HOME"
    assert systemd_quote("/opt/$x %n/python", program=True) == '"/opt/$x %%n/python"'
    assert systemd_quote("a b") == '"a b"'
    assert systemd_quote('say "hi"\\') == '"say \\"hi\\"\\\\"'
    assert systemd_quote("") == '""'
    with pytest.raises(ServiceError, match="line break"):
        systemd_quote("two\nlines")


def test_system_service_needs_a_config_that_keeps_state_in_var_lib(home, tmp_path):
    with pytest.raises(ServiceError, match="needs a config file: create /etc/tierd/config.toml"):
        plan_service("system", manager="systemd")
    elsewhere = _config(tmp_path, 'state_dir = "~/tierd-state"\n')
    with pytest.raises(ServiceError, match='set state_dir = "/var/lib/tierd" there'):
        plan_service("system", elsewhere, manager="systemd")


def test_plan_warns_when_the_service_python_cannot_import_tierd(home, tmp_path):
    bare = tmp_path / "bare venv"
    venv.create(bare, with_pip=False)

    plan = plan_service("user", manager="systemd", python=bare / "bin" / "python")

    assert any(f"{bare / 'bin' / 'python'} cannot import tierd without PYTHONPATH" in w
               for w in plan.warnings)


def test_system_plan_warns_when_the_tierd_user_cannot_reach_python(home):
    # Not under tmp_path: pytest makes its base folder 0700, which would be reported first.
    with tempfile.TemporaryDirectory() as folder:
        open_folder = Path(folder)
        open_folder.chmod(0o755)
        locked = open_folder / "locked"
        locked.mkdir(mode=0o700)
        (locked / "python").symlink_to(sys.executable)
        config = _config(open_folder, 'state_dir = "/var/lib/tierd"\n')

        plan = plan_service("system", config, manager="systemd", python=locked / "python")

    assert [w for w in plan.warnings if "tierd user" in w] == [
        f"the tierd user cannot run {locked / 'python'} ({locked} is mode 0700); put tierd's "
        "venv and config where it can, e.g. /opt/tierd and /etc/tierd"]


# ---------------------------------------------------------------------------------------------
# The launchd plist


def test_launchd_template_is_a_plist_with_its_placeholders():
    template = plistlib.loads((REPO / "launchd" / "dev.tierd.plist").read_bytes())

    assert template["ProgramArguments"] == ["@DAEMON_COMMAND@"]
    assert template["StandardOutPath"].startswith("@LOG_DIR@/")


def test_launch_agent_plist(home, tmp_path):
    config = _config(tmp_path, 'state_dir = "~/tierd state"\n')

    plist = plistlib.loads(plan_service("user", config, manager="launchd").content)

    assert plist["Label"] == "dev.tierd"
    assert plist["ProgramArguments"] == [sys.executable, "-m", "tierd",
                                         "--config", str(config), "serve"]
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["StandardOutPath"] == str(home / "Library/Logs/tierd/tierd.log")
    assert plist["StandardErrorPath"] == str(home / "Library/Logs/tierd/tierd.err.log")
    assert plist["WorkingDirectory"] == str(home / "tierd state")
    assert plist["EnvironmentVariables"]["PYTHONUNBUFFERED"] == "1"
    assert "/opt/homebrew/bin" in plist["EnvironmentVariables"]["PATH"].split(":")
    assert "UserName" not in plist


def test_launch_daemon_plist_runs_as_the_sudo_user(home, tmp_path, monkeypatch):
    config = _config(tmp_path, 'state_dir = "~/tierd"\n')
    with pytest.raises(ServiceError, match="runs as the user who installs it"):
        plan_service("system", config, manager="launchd")
    monkeypatch.setenv("SUDO_USER", "nobody")  # Debian's nobody lives in /nonexistent

    plan = plan_service("system", config, manager="launchd")
    plist = plistlib.loads(plan.content)

    assert plan.path == Path("/Library/LaunchDaemons/dev.tierd.plist")
    assert (
        plan.enable_command == "launchctl bootstrap system /Library/LaunchDaemons/dev.tierd.plist"
    )
    assert plist["UserName"] == "nobody"
    assert plist["WorkingDirectory"] == "/nonexistent/tierd"
    assert plist["StandardOutPath"] == "/nonexistent/Library/Logs/tierd/tierd.log"


def test_launch_agent_install_makes_the_folders_launchd_will_not(home, tmp_path):
    result = install_service("user", manager="launchd")

    path = home / "Library/LaunchAgents/dev.tierd.plist"
    assert result.written and result.plan.path == path
    assert plistlib.loads(path.read_bytes())["Label"] == "dev.tierd"
    assert (home / "Library/Logs/tierd").is_dir()
    assert (home / ".local/share/tierd").is_dir()
    assert result.plan.enable_command == f"launchctl bootstrap gui/{os.getuid()} '{path}'"
    assert uninstall_service("user", manager="launchd").removed
    assert not path.exists()


# ---------------------------------------------------------------------------------------------
# The command line, on a systemd machine with systemd not running


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="systemd is Linux's")
def test_install_dry_run_prints_and_writes_nothing(home, run_cli):
    code, out, err = run_cli("service", "install", "--user", "--dry-run")

    assert code == 0, err
    assert f"# would write {home}/.config/systemd/user/tierd.service" in out
    assert "ExecStart=" in out and "[Install]" in out
    assert "systemctl --user daemon-reload && systemctl --user enable --now tierd" in out
    assert list(home.iterdir()) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="systemd is Linux's")
def test_install_status_enable_uninstall(home, run_cli):
    unit = home / ".config/systemd/user/tierd.service"
    code, out, _ = run_cli("service", "status")
    assert code == 0
    assert f"installed: no ({unit} does not exist)" in out
    if not SYSTEMD_RUNNING:
        assert "systemd is not running on this machine" in out

    code, out, err = run_cli("service", "install", "--user")
    assert code == 0, err
    assert out.startswith(f"wrote {unit}\n")
    assert "  systemctl --user daemon-reload && systemctl --user enable --now tierd" in out
    assert "  loginctl enable-linger" in out
    assert unit.read_bytes() == plan_service("user", manager="systemd").content

    code, out, _ = run_cli("service", "status")
    assert (code, f"installed: {unit}" in out) == (0, True)
    assert "current:   yes" in out
    assert "enabled:   disabled" in out

    # The real systemctl enables from the unit file alone, as the printed command would.
    enabled = subprocess.run([_tool("systemctl"), "--user", "enable", "tierd"],
                             capture_output=True, text=True, timeout=60)
    assert enabled.returncode == 0, enabled.stderr
    link = home / ".config/systemd/user/default.target.wants/tierd.service"
    assert link.is_symlink()
    unit.write_text(unit.read_text().replace("RestartSec=5", "RestartSec=1"))
    status = service_status("user", manager="systemd")
    assert (status.installed, status.current, status.enabled) == (True, False, "enabled")
    if not SYSTEMD_RUNNING:
        assert status.running is None

    code, out, _ = run_cli("service", "uninstall", "--user")
    assert code == 0
    assert out.startswith(f"removed {unit}\n")
    assert "systemctl --user stop tierd && systemctl --user daemon-reload" in out
    assert not unit.exists() and not link.is_symlink()

    code, out, _ = run_cli("service", "uninstall")
    assert (code, out) == (0, f"not installed: {unit} does not exist\n")


def test_system_dry_run_without_a_config_is_a_user_error(home, run_cli):
    code, out, err = run_cli("service", "install", "--system", "--dry-run")

    assert (code, out) == (1, "")
    assert "a system service needs a config file" in err


def test_system_install_as_a_normal_user_says_it_needs_root():
    """Run as `nobody` (when these tests run as root) with Debian's python3, which can reach
    the source tree: the venv may live under /root, which nobody can enter."""
    script = ("import sys\n"
              "from tierd.system_service.install import install_service\n"
              "from tierd.system_service.render import ServiceError\n"
              "try:\n"
              "    install_service('system', manager='systemd')\n"
              "except ServiceError as err:\n"
              "    sys.exit(str(err))\n")
    python, prefix = sys.executable, []
    if os.geteuid() == 0:
        python = shutil.which("python3", path="/usr/bin:/bin")
        assert python, "running as root, this test needs Debian's python3 to run as nobody"
        prefix = [_tool("setpriv"), "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    source = str(Path(tierd.__file__).resolve().parents[1])
    with tempfile.TemporaryDirectory() as cwd:
        os.chmod(cwd, 0o755)
        done = subprocess.run([*prefix, python, "-c", script], cwd=cwd, capture_output=True,
                              text=True, timeout=60, env={**os.environ, "PYTHONPATH": source})

    assert done.returncode == 1
    assert done.stderr.strip() == ("--system writes /etc/systemd/system/tierd.service, which "
                                   "needs root: run it with sudo (or use --user)")
