"""Walking a configured source (a folder or a repo) into the files worth indexing.

The walk only stats: reading and hashing happen later and only for files whose size or mtime
moved, so a nightly run over an unchanged tree costs a directory walk. It never follows a
symlinked folder (the cheap, certain guard against loops) and never raises for one bad entry:
every skip is counted by reason in `Skips` and the walk goes on.
"""

from __future__ import annotations

import collections
import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from tierd.index.globs import Glob, IgnoreRule, is_ignored, matches_any, read_gitignore

DEFAULT_MAX_FILE_BYTES = 1024 * 1024
ALWAYS_PRUNED = frozenset({".git", ".hg", ".svn"})


@dataclass(frozen=True)
class SourceSpec:
    name: str
    path: str
    include: tuple[str, ...] = ("**",)
    exclude: tuple[str, ...] = ()
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES

    @property
    def root(self) -> Path:
        return Path(os.path.expanduser(self.path))


@dataclass(frozen=True)
class FoundFile:
    rel_path: str
    """'/'-separated, relative to the source root: what the index stores and shows."""
    abs_path: str
    size: int
    mtime_ns: int


MAX_EXAMPLES = 50


@dataclass
class Skips:
    """Files and folders left out, counted by reason, with the first few named."""

    counts: collections.Counter = field(default_factory=collections.Counter)
    examples: list[str] = field(default_factory=list)

    def add(self, reason: str, where: str) -> None:
        self.counts[reason] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{where}: {reason}")


class SourceMissing(Exception):
    """The source's root is not a readable folder; its indexed files are kept as they are."""


def scan_source(spec: SourceSpec, skips: Skips) -> Iterator[FoundFile]:
    """Yield the source's files in a stable (sorted) order; raise SourceMissing up front."""
    root = spec.root
    try:
        if not root.is_dir():
            what = "is not a folder" if root.exists() else "does not exist"
            raise SourceMissing(f"source {spec.name!r}: {root} {what}")
        os.scandir(root).close()
    except PermissionError:
        raise SourceMissing(f"source {spec.name!r}: {root} cannot be read (permission denied)")
    include = tuple(Glob.compile(p) for p in spec.include)
    exclude = tuple(Glob.compile(p) for p in spec.exclude)
    stack: list[tuple[Path, str, list[IgnoreRule]]] = [(root, "", read_gitignore(root, ""))]
    while stack:
        folder, rel_folder, rules = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except FileNotFoundError:
            skips.add("folder vanished during the scan", rel_folder or ".")
            continue
        except OSError as err:
            skips.add(f"folder unreadable ({err.strerror})", rel_folder or ".")
            continue
        subfolders = []
        for entry in entries:
            rel = f"{rel_folder}/{entry.name}" if rel_folder else entry.name
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                skips.add("vanished during the scan", rel)
                continue
            if is_dir:
                if entry.name in ALWAYS_PRUNED or is_ignored(rules, rel, True) \
                        or matches_any(exclude, rel):
                    continue
                subfolders.append((Path(entry.path), rel))
                continue
            if is_ignored(rules, rel, False) or matches_any(exclude, rel) \
                    or not matches_any(include, rel):
                continue
            found = _stat_file(entry, rel, is_link, spec.max_file_bytes, skips)
            if found is not None:
                yield found
        # Reverse so the stack pops folders in sorted order: the walk order is deterministic,
        # which keeps a resumed build identical to a clean one.
        for path, rel in reversed(subfolders):
            stack.append((path, rel, rules + read_gitignore(path, rel)))


def _stat_file(entry: os.DirEntry, rel: str, is_link: bool, max_bytes: int,
               skips: Skips) -> FoundFile | None:
    try:
        st = entry.stat(follow_symlinks=True)
    except FileNotFoundError:
        skips.add("broken symlink" if is_link else "vanished during the scan", rel)
        return None
    except OSError as err:
        reason = "symlink loop" if err.errno == errno.ELOOP else f"cannot stat ({err.strerror})"
        skips.add(reason, rel)
        return None
    if stat.S_ISDIR(st.st_mode):
        skips.add("symlink to a folder (not followed)", rel)
        return None
    if not stat.S_ISREG(st.st_mode):
        skips.add("not a regular file", rel)
        return None
    if st.st_size > max_bytes:
        skips.add("larger than max_file_bytes", rel)
        return None
    return FoundFile(rel, entry.path, st.st_size, st.st_mtime_ns)
