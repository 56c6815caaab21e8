"""The dashboard as a static site: the page's files plus one pair of files per snapshot.

Layout of `out_dir`:
    index.html, app.js, style.css     the page, marked as static (see app.js's top comment)
    data/NAME.json                    each snapshot, for people and other tools
    data/NAME.js                      the same data as `tierdSnapshot("NAME", {...});`, which is
                                      what the page loads: a file:// page may run a <script>
                                      from its folder but may not fetch() a file

Every export goes through `write_files`: each file goes to a temporary name in its final folder
first, and only when all are written are they renamed into place, so a reader (a web server,
the page itself on its next refresh) never sees half a file, and a failure part-way leaves the
previous export whole.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGE_FILES = ("index.html", "app.js", "style.css")
DATA_DIR = "data"
LIVE_MARK = '<meta name="tierd-mode" content="live">'
STATIC_MARK = '<meta name="tierd-mode" content="static">'
_NAME = re.compile(r"[a-z][a-z0-9_]*")
"""Snapshot names become file names and a JS string: keep them to what needs no escaping."""


def page_text(name: str, static: bool = True) -> str:
    """One of the page's files; index.html marked static, as a site of snapshots needs."""
    text = (STATIC_DIR / name).read_text(encoding="utf-8")
    if name == "index.html" and static:
        if text.count(LIVE_MARK) != 1:
            raise RuntimeError(f"index.html must hold {LIVE_MARK!r} exactly once")
        text = text.replace(LIVE_MARK, STATIC_MARK)
    return text


def snapshot_script(name: str, data: dict) -> str:
    """`data` as the page's static loader wants it: valid JSON is a valid JS expression."""
    return f'tierdSnapshot("{name}", {json.dumps(data, default=str)});\n'


def site_files(snapshots: dict[str, dict]) -> dict[Path, str]:
    """Every file of the site, by its path relative to the site's folder."""
    files = {Path(name): page_text(name) for name in PAGE_FILES}
    for name, data in snapshots.items():
        if not _NAME.fullmatch(name):
            raise ValueError(f"snapshot name {name!r}: use lowercase letters, digits and _")
        files[Path(DATA_DIR, f"{name}.json")] = json_text(data)
        files[Path(DATA_DIR, f"{name}.js")] = snapshot_script(name, data)
    return files


def json_text(data: dict) -> str:
    return json.dumps(data, indent=2, default=str) + "\n"


def write_site(out_dir: Path, snapshots: dict[str, dict]) -> list[Path]:
    """Write the page and `snapshots` (name → data) into `out_dir`; return the written paths.

    Snapshots not named here are left as they are: a missing one is the page's to show as
    "no data", and an old one still carries its own `generated_at`.
    """
    return write_files(out_dir, site_files(snapshots))


def write_files(out_dir: Path, files: dict[Path, str]) -> list[Path]:
    """Write `files` (path relative to `out_dir` → text): all to temporary files first, then
    the renames, then the folders fsynced so the renames themselves survive a crash."""
    staged: list[tuple[str, Path]] = []
    try:
        for relative, text in files.items():
            final = out_dir / relative
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
            staged.append((temp, final))
            os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide it from the web server
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
    except BaseException:
        for temp, _ in staged:
            Path(temp).unlink(missing_ok=True)
        raise
    for temp, final in staged:
        os.replace(temp, final)
    for folder in {final.parent for _, final in staged}:
        _fsync_dir(folder)
    return [final for _, final in staged]


def _fsync_dir(path: Path) -> None:
    """Make the renames durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
