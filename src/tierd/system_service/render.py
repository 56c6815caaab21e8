"""Fill the service templates (systemd/, launchd/) with one install's real paths.

Pure functions: nothing here reads the environment or writes a file, so the same rendering
backs `install`, `install --dry-run` and the "is the installed file current?" check of
`status`. The templates are the files in the repository's systemd/ and launchd/ folders,
reached through the package's templates/ folder so an installed wheel carries them too.
"""

from __future__ import annotations

import plistlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from tierd.errors import TierdError

Scope = Literal["user", "system"]

LAUNCHD_LABEL = "dev.tierd"


class ServiceError(TierdError):
    """A service file cannot be rendered, written, removed or asked about."""


@dataclass(frozen=True)
class ServicePaths:
    """The real paths a service file names."""

    python: Path
    """Interpreter that runs the daemon: the one that ran the install, so its venv is used."""
    config: Path | None
    """Config file passed to the daemon; None lets the daemon look one up itself."""
    state_dir: Path
    log_dir: Path | None = None
    """Where launchd writes the daemon's output; None for systemd, which keeps it in the journal."""
    run_as: str | None = None
    """Account a launchd daemon runs as; None for an agent (systemd's system unit names tierd)."""


def daemon_command(paths: ServicePaths) -> list[str]:
    """The daemon's argv. `--config` goes before the verb: it is an option of `tierd` itself."""
    config = ["--config", str(paths.config)] if paths.config is not None else []
    return [str(paths.python), "-m", "tierd", *config, "serve"]


def render_systemd_unit(paths: ServicePaths, scope: Scope) -> str:
    template = "tierd.service" if scope == "system" else "tierd-user.service"
    text = _template(template).decode("utf-8")
    program, *args = daemon_command(paths)
    command = " ".join([systemd_quote(program, program=True), *map(systemd_quote, args)])
    return text.replace("@DAEMON_COMMAND@", command)


def render_launchd_plist(paths: ServicePaths, scope: Scope) -> bytes:
    """Parse the template, fill it in, write it back out (plistlib does the XML escaping)."""
    plist = plistlib.loads(_template("dev.tierd.plist"))
    if paths.log_dir is None:
        raise ServiceError("a launchd job needs a folder for its output (StandardOutPath)")
    plist = _fill(plist, {"@STATE_DIR@": str(paths.state_dir), "@LOG_DIR@": str(paths.log_dir)})
    plist["ProgramArguments"] = daemon_command(paths)
    if scope == "system":
        if not paths.run_as:
            raise ServiceError("a launchd daemon needs the account it runs as (UserName)")
        plist["UserName"] = paths.run_as
    return plistlib.dumps(plist)


def systemd_quote(arg: str, program: bool = False) -> str:
    """One argument of an ExecStart= line, as systemd will split and expand it back.

    systemd expands %-specifiers everywhere, even inside quotes, so `%` is always doubled; it
    expands $VARIABLES in the arguments but not in the program path (checked against
    systemd-analyze verify), so `$` is doubled in the arguments only. Quotes are added only where
    whitespace, a quote or a backslash needs them.
    """
    if "\n" in arg or "\r" in arg or "\0" in arg:
        raise ServiceError(f"{arg!r} cannot go into a systemd unit (it holds a line break)")
    escaped = arg.replace("%", "%%")
    if not program:
        escaped = escaped.replace("$", "$$")
    if arg and not any(c.isspace() or c in "\"'\\" for c in arg):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _template(name: str) -> bytes:
    return (resources.files("tierd.system_service") / "templates" / name).read_bytes()


def _fill(value: object, mapping: dict[str, str]) -> object:
    if isinstance(value, str):
        for placeholder, real in mapping.items():
            value = value.replace(placeholder, real)
        return value
    if isinstance(value, dict):
        return {key: _fill(item, mapping) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, mapping) for item in value]
    return value
