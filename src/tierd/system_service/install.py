"""Install, remove and ask about the tierd service: systemd on Linux, launchd on macOS.

These functions write or remove one file and return what they did as data; they never start,
stop or enable the service themselves. Turning a service on is the one step a person should see
and own, so the result carries the exact command for it (the CLI prints it). The one exception
is `systemctl disable` on uninstall: it only removes the links `enable` made, and without it
they would dangle once the unit file is gone.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tierd.config import Config, load_config
from tierd.errors import TierdError
from tierd.system_service.render import (
    LAUNCHD_LABEL,
    Scope,
    ServiceError,
    ServicePaths,
    render_launchd_plist,
    render_systemd_unit,
)

Manager = Literal["systemd", "launchd"]

SYSTEM_USER = "tierd"
SYSTEM_STATE_DIR = Path("/var/lib/tierd")
SYSTEMD_UNIT = "tierd.service"


@dataclass(frozen=True)
class ServicePlan:
    """What `install` writes, where, and the command that turns it on."""

    manager: Manager
    scope: Scope
    path: Path
    content: bytes
    paths: ServicePaths
    enable_command: str
    warnings: tuple[str, ...]
    """Problems that would stop the service from starting, found before it is ever started."""


@dataclass(frozen=True)
class InstallResult:
    plan: ServicePlan
    written: bool
    """False for a dry run."""


@dataclass(frozen=True)
class UninstallResult:
    manager: Manager
    scope: Scope
    path: Path
    removed: bool
    """False when there was nothing to remove."""
    stop_command: str
    """Stops an instance still running from the removed file."""


@dataclass(frozen=True)
class ServiceStatus:
    manager: Manager
    scope: Scope
    path: Path
    installed: bool
    current: bool | None
    """Whether the file matches what `install` would write now; None if that is unknown."""
    enabled: str | None
    """The service manager's word for it ("enabled", "disabled", ...); None if unknown."""
    running: str | None
    """The service manager's word for it ("active", "failed", "running", ...); None if unknown."""
    notes: tuple[str, ...]
    """Why something above is unknown."""


def detect_manager(platform: str = sys.platform) -> Manager:
    if platform.startswith("linux"):
        return "systemd"
    if platform == "darwin":
        return "launchd"
    raise ServiceError(f"tierd can install itself as a service on Linux (systemd) and macOS "
                       f"(launchd), not on {platform!r}")


def service_file(manager: Manager, scope: Scope, home: Path | None = None) -> Path:
    home = home or Path.home()
    if manager == "systemd":
        folder = home / ".config/systemd/user" if scope == "user" else Path("/etc/systemd/system")
        return folder / SYSTEMD_UNIT
    folder = home / "Library/LaunchAgents" if scope == "user" else Path("/Library/LaunchDaemons")
    return folder / f"{LAUNCHD_LABEL}.plist"


def plan_service(scope: Scope = "user", config_path: str | os.PathLike | None = None,
                 manager: Manager | None = None, python: Path | None = None) -> ServicePlan:
    """Render the service file for this install: its Python, its config, its state folder."""
    manager = manager or detect_manager()
    paths, content = _render(scope, config_path, manager, Path(python or sys.executable))
    path = service_file(manager, scope)
    return ServicePlan(manager=manager, scope=scope, path=path, content=content, paths=paths,
                       enable_command=_enable_command(manager, scope, path),
                       warnings=tuple(_startup_problems(manager, scope, paths)))


def _render(scope: Scope, config_path: str | os.PathLike | None, manager: Manager,
            python: Path) -> tuple[ServicePaths, bytes]:
    config = load_config(config_path)
    config_file = None if config.source == Config().source else Path(config.source).absolute()
    if scope == "system" and config_file is None:
        raise ServiceError(
            "a system service needs a config file: create /etc/tierd/config.toml"
            + (f' with state_dir = "{SYSTEM_STATE_DIR}"' if manager == "systemd" else "")
            + " (or pass --config)")
    if manager == "systemd":
        if scope == "system" and config.state_path != SYSTEM_STATE_DIR:
            raise ServiceError(
                f"the system service keeps its state in {SYSTEM_STATE_DIR} (systemd's "
                f"StateDirectory=), but {config.source} has state_dir = {config.state_dir!r}: "
                f'set state_dir = "{SYSTEM_STATE_DIR}" there')
        paths = ServicePaths(python=python.absolute(), config=config_file,
                             state_dir=config.state_path)
        return paths, render_systemd_unit(paths, scope).encode("utf-8")
    run_as, home = _launchd_account(scope)
    paths = ServicePaths(python=python.absolute(), config=config_file,
                         state_dir=_expand_home(config.state_dir, home),
                         log_dir=home / "Library/Logs/tierd", run_as=run_as)
    return paths, render_launchd_plist(paths, scope)


def install_service(scope: Scope = "user", config_path: str | os.PathLike | None = None,
                    dry_run: bool = False, manager: Manager | None = None) -> InstallResult:
    manager = manager or detect_manager()
    if not dry_run:
        _require_root_for(scope, service_file(manager, scope))
    plan = plan_service(scope, config_path, manager)
    if dry_run:
        return InstallResult(plan=plan, written=False)
    plan.path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so a service manager never reads half a file.
    partial = plan.path.with_name(f".{plan.path.name}.partial")
    partial.write_bytes(plan.content)
    partial.chmod(0o644)
    os.replace(partial, plan.path)
    if plan.manager == "launchd":
        # launchd creates neither: a missing WorkingDirectory or log folder stops the job.
        for folder in (plan.paths.state_dir, plan.paths.log_dir):
            folder.mkdir(parents=True, exist_ok=True)
            if plan.paths.run_as:
                shutil.chown(folder, user=plan.paths.run_as)
    return InstallResult(plan=plan, written=True)


def uninstall_service(scope: Scope = "user", manager: Manager | None = None) -> UninstallResult:
    manager = manager or detect_manager()
    path = service_file(manager, scope)
    stop = _stop_command(manager, scope)
    if not path.exists():
        return UninstallResult(manager, scope, path, removed=False, stop_command=stop)
    _require_root_for(scope, path)
    if manager == "systemd" and shutil.which("systemctl"):
        # Works without a running systemd: it only removes the links `enable` made.
        done = _systemctl(scope, "disable", "tierd")
        if done.returncode != 0:
            raise ServiceError(f"systemctl disable tierd failed, so {path} was left in place: "
                               f"{_first_line(done.stderr)}")
    path.unlink()
    return UninstallResult(manager, scope, path, removed=True, stop_command=stop)


def service_status(scope: Scope = "user", config_path: str | os.PathLike | None = None,
                   manager: Manager | None = None) -> ServiceStatus:
    manager = manager or detect_manager()
    path = service_file(manager, scope)
    notes: list[str] = []
    installed = path.exists()
    current = enabled = running = None
    if installed:
        try:
            _, content = _render(scope, config_path, manager, Path(sys.executable))
            current = path.read_bytes() == content
        except TierdError as err:
            notes.append(f"cannot tell whether the file is current: {err}")
    if manager == "systemd":
        enabled, running = _ask_systemd(scope, installed, notes)
    else:
        running = _ask_launchd(scope, notes)
    return ServiceStatus(manager=manager, scope=scope, path=path, installed=installed,
                         current=current, enabled=enabled, running=running, notes=tuple(notes))


# ---------------------------------------------------------------------------------------------
# Asking the service managers


_SYSTEMD_WORDS = {"active", "inactive", "failed", "activating", "deactivating", "reloading",
                  "enabled", "disabled", "static", "masked", "linked", "indirect", "generated",
                  "transient", "alias", "enabled-runtime", "linked-runtime", "masked-runtime"}


def _ask_systemd(scope: Scope, installed: bool, notes: list[str]) -> tuple[str | None, str | None]:
    if not shutil.which("systemctl"):
        notes.append("systemctl is not installed here, so systemd cannot be asked")
        return None, None
    enabled = None
    if installed:
        # Read from the unit files themselves: it needs no running systemd.
        enabled = _systemctl_word(_systemctl(scope, "is-enabled", "tierd"), notes)
    # sd_booted(): this folder exists exactly when systemd is PID 1.
    if not Path("/run/systemd/system").is_dir():
        notes.append("systemd is not running on this machine (no /run/systemd/system), "
                     "so whether tierd runs cannot be asked")
        return enabled, None
    return enabled, _systemctl_word(_systemctl(scope, "is-active", "tierd"), notes)


def _systemctl_word(done: subprocess.CompletedProcess, notes: list[str]) -> str | None:
    word = done.stdout.strip()
    if word in _SYSTEMD_WORDS:
        return word
    notes.append(f"systemctl {' '.join(done.args[1:])}: {_first_line(done.stderr or word)}")
    return None


def _systemctl(scope: Scope, *args: str) -> subprocess.CompletedProcess:
    argv = ["systemctl", *(["--user"] if scope == "user" else []), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def _ask_launchd(scope: Scope, notes: list[str]) -> str | None:
    if not shutil.which("launchctl"):
        notes.append("launchctl is not installed here, so launchd cannot be asked")
        return None
    done = subprocess.run(["launchctl", "print", f"{_launchd_domain(scope)}/{LAUNCHD_LABEL}"],
                          capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        return "not loaded"
    for line in done.stdout.splitlines():
        key, _, value = line.strip().partition(" = ")
        if key == "state":
            return value
    notes.append("launchctl print gave no state line")
    return None


# ---------------------------------------------------------------------------------------------
# Details


def _enable_command(manager: Manager, scope: Scope, path: Path) -> str:
    if manager == "launchd":
        return f"launchctl bootstrap {_launchd_domain(scope)} {shlex.quote(str(path))}"
    if scope == "user":
        return "systemctl --user daemon-reload && systemctl --user enable --now tierd"
    command = "systemctl daemon-reload && systemctl enable --now tierd"
    if not _user_exists(SYSTEM_USER):
        command = (f"useradd --system --home-dir {SYSTEM_STATE_DIR} --shell /usr/sbin/nologin "
                   f"{SYSTEM_USER} && {command}")
    return command


def _stop_command(manager: Manager, scope: Scope) -> str:
    if manager == "launchd":
        return f"launchctl bootout {_launchd_domain(scope)}/{LAUNCHD_LABEL}"
    user = "--user " if scope == "user" else ""
    return f"systemctl {user}stop tierd && systemctl {user}daemon-reload"


def _launchd_domain(scope: Scope) -> str:
    return f"gui/{os.getuid()}" if scope == "user" else "system"


def _launchd_account(scope: Scope) -> tuple[str | None, Path]:
    """Who a launchd job runs as, and their home: the installing user, also under sudo."""
    if scope == "user":
        return None, Path.home()
    name = os.environ.get("SUDO_USER")
    if not name or name == "root":
        raise ServiceError("a launchd daemon runs as the user who installs it: run "
                           "`sudo tierd service install --system` from that account")
    return name, Path(pwd.getpwnam(name).pw_dir)


def _expand_home(folder: str, home: Path) -> Path:
    if folder == "~" or folder.startswith("~/"):
        return home / folder[2:]
    return Path(folder).expanduser()


def _require_root_for(scope: Scope, path: Path) -> None:
    if scope == "system" and os.geteuid() != 0:
        raise ServiceError(f"--system writes {path}, which needs root: run it with sudo "
                           "(or use --user)")


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _startup_problems(manager: Manager, scope: Scope, paths: ServicePaths) -> list[str]:
    problems = []
    if manager == "systemd" and scope == "system":
        # The unit runs as a fresh system user: all it gets is what "others" may do.
        for path, need, what in ((paths.python, stat.S_IXOTH, "run"),
                                 (paths.config, stat.S_IROTH, "read")):
            # A missing file is reported by the import check below.
            if path is None or not path.exists():
                continue
            if (blocked := _blocked_for_others(path, need)) is not None:
                mode = stat.S_IMODE(blocked.stat().st_mode)
                problems.append(
                    f"the {SYSTEM_USER} user cannot {what} {path} ({blocked} is mode "
                    f"{mode:04o}); put tierd's venv and config where it can, e.g. /opt/tierd "
                    "and /etc/tierd")
    # The service gets none of this shell's PYTHONPATH, nor its working folder (which
    # `python -c` would search): tierd must be installed in that Python.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    try:
        probe = subprocess.run([str(paths.python), "-c", "import tierd.cli.main"], env=env, cwd="/",
                               capture_output=True, text=True, timeout=60)
    except OSError as err:
        problems.append(f"{paths.python} cannot be run ({err.strerror}), so the service would "
                        "fail to start")
        return problems
    if probe.returncode != 0:
        problems.append(f"{paths.python} cannot import tierd without PYTHONPATH, so the service "
                        f"would fail to start: pip install tierd into that environment "
                        f"({_last_line(probe.stderr)})")
    return problems


def _blocked_for_others(path: Path, need: int) -> Path | None:
    """The first folder on the way to `path` (or `path` itself) that others may not pass."""
    for candidate in (path, path.resolve()):
        for folder in reversed(candidate.parents):
            if not folder.stat().st_mode & stat.S_IXOTH:
                return folder
    real = path.resolve()
    return None if real.stat().st_mode & need else real


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "(no message)"


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1] if text.strip() else "(no message)"
