"""Globs and .gitignore rules over '/'-separated relative paths.

One translator serves the sources' include/exclude globs, `.gitignore` files and the search's
path filter, so the three agree on what `*`, `**` and `?` mean: `*` and `?` stay inside one
folder, `**` crosses folders, and a pattern without a '/' matches a name at any depth (the
gitignore rule, which is also what people expect of `*.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


def glob_to_regex(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                if pattern.startswith("/", i + 2):
                    out.append("(?:.*/)?")
                    i += 3
                else:
                    out.append(".*")
                    i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1:end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
            continue
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class Glob:
    """A compiled glob; `matches(rel_path)` tests a path relative to the glob's base."""

    regex: re.Pattern[str]
    name_only: bool
    """No '/' in the pattern: it matches the last path component at any depth."""

    @classmethod
    def compile(cls, pattern: str) -> "Glob":
        stripped = pattern.strip("/")
        name_only = "/" not in stripped
        return cls(re.compile(glob_to_regex(stripped) + r"\Z", re.DOTALL), name_only)

    def matches(self, rel_path: str) -> bool:
        target = rel_path.rsplit("/", 1)[-1] if self.name_only else rel_path
        return self.regex.match(target) is not None


def matches_any(globs: tuple[Glob, ...], rel_path: str) -> bool:
    return any(g.matches(rel_path) for g in globs)


@dataclass(frozen=True)
class IgnoreRule:
    glob: Glob
    base: str
    """The folder of the .gitignore that holds the rule, relative to the source root."""
    negate: bool
    dir_only: bool


def read_gitignore(folder: Path, base: str) -> list[IgnoreRule]:
    """The rules of `folder/.gitignore` (none when there is no such file or it is unreadable)."""
    try:
        text = (folder / ".gitignore").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    rules = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate:
            line = line[1:]
        if line.startswith("\\"):
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        # A slash anywhere but the end anchors the pattern to the .gitignore's folder.
        anchored = "/" in line
        glob = Glob.compile(line.lstrip("/"))
        if anchored and glob.name_only:
            glob = Glob(glob.regex, name_only=False)
        rules.append(IgnoreRule(glob, base, negate, dir_only))
    return rules


def is_ignored(rules: list[IgnoreRule], rel_path: str, is_dir: bool) -> bool:
    """gitignore semantics: the last matching rule wins; `!` re-includes."""
    ignored = False
    for rule in rules:
        if rule.dir_only and not is_dir:
            continue
        if rule.base:
            if not rel_path.startswith(rule.base + "/"):
                continue
            local = rel_path[len(rule.base) + 1:]
        else:
            local = rel_path
        if rule.glob.matches(local):
            ignored = not rule.negate
    return ignored
