"""Per-agent API keys: one per agent, so the ledger can say which one is burning tokens.

A key is shown once, when it is made, and stored only as its SHA-256 hash (a key is 32 random
bytes, so a fast hash is as good as a slow one: there is nothing to guess). A request that
carries a key is attributed to it in the ledger, held to its own daily and weekly caps
(reserved like every budget, so concurrent calls cannot overspend them) and to the tiers it
may use. The server token stays the admin key; agent keys reach only the APIs' faces.

A revoked key keeps its row, so its calls stay attributed and using it again is told apart
from a typo; its name may be given to a new key.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from tierd.costs.budgets import KeyCaps
from tierd.costs.ledger import Ledger
from tierd.costs.periods import iso
from tierd.db import Schema
from tierd.errors import TierdError, UnknownName
from tierd.routing.tasks import TIERS

SCHEMA = Schema("keys", ("""
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created REAL NOT NULL,
    revoked REAL,
    daily_usd REAL,
    weekly_usd REAL,
    tiers TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_live_name ON api_keys (name) WHERE revoked IS NULL;
""",))

KEY_PREFIX = "tierd-"
"""Every key starts so: a bearer that looks like one but matches none is refused, not ignored."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CACHE_TTL_S = 5.0
"""How long a looked-up key is trusted without reading the table again; this process's own
revocations drop it at once."""


class UnknownKey(UnknownName):
    kind = "key"


class KeyExists(TierdError):
    http_status = 409


@dataclass(frozen=True)
class AgentKey:
    name: str
    prefix: str
    """The first characters of the key, to tell keys apart in a listing."""
    created: float
    revoked: float | None = None
    daily: float | None = None
    weekly: float | None = None
    tiers: tuple[str, ...] = ()
    """Tiers the key may use; empty means every tier."""

    @property
    def caps(self) -> KeyCaps:
        return KeyCaps(self.name, self.daily, self.weekly)

    def as_dict(self) -> dict:
        return {"name": self.name, "prefix": self.prefix, "created": iso(self.created),
                "revoked": None if self.revoked is None else iso(self.revoked),
                "daily_usd": self.daily, "weekly_usd": self.weekly, "tiers": list(self.tiers)}


@dataclass(frozen=True)
class Caller:
    """Who sent a request: an agent key, else the client's address (for the loop breaker)."""

    key: AgentKey | None = None
    address: str = ""

    @property
    def identity(self) -> str:
        return f"key {self.key.name}" if self.key is not None else f"client {self.address}"


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _row_key(row: Any) -> AgentKey:
    tiers = tuple(t for t in row["tiers"].split(",") if t)
    return AgentKey(row["name"], row["prefix"], row["created"], row["revoked"],
                    row["daily_usd"], row["weekly_usd"], tiers)


def check_key_request(name: str, daily: float | None, weekly: float | None,
                      tiers: list[str] | tuple[str, ...]) -> None:
    if not _NAME.fullmatch(name or ""):
        raise TierdError(f"key name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    for label, usd in (("daily", daily), ("weekly", weekly)):
        if usd is not None and (not math.isfinite(usd) or usd < 0):
            raise TierdError(f"{label}: {usd} is not a budget (US dollars, 0 or more)")
    unknown = [t for t in tiers if t not in TIERS]
    if unknown:
        raise TierdError(f"tiers: {', '.join(map(repr, unknown))} not known (known tiers: "
                         f"{', '.join(TIERS)})")


class KeyStore:
    """The `api_keys` table, over the ledger's connection (one state.db, one lock)."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self._cache: dict[str, tuple[float, AgentKey | None]] = {}
        self._cache_lock = threading.Lock()

    def create(self, name: str, daily: float | None = None, weekly: float | None = None,
               tiers: list[str] | tuple[str, ...] = ()) -> tuple[AgentKey, str]:
        """A new key and its secret, which is never stored or shown again."""
        check_key_request(name, daily, weekly, tiers)
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = AgentKey(name, secret[:len(KEY_PREFIX) + 6], time.time(), None, daily, weekly,
                       tuple(dict.fromkeys(tiers)))
        with self.ledger.write() as conn:
            if conn.execute("SELECT 1 FROM api_keys WHERE name = ? AND revoked IS NULL",
                            (name,)).fetchone():
                raise KeyExists(f"a key named {name!r} exists already: revoke it first "
                                f"(tierd keys revoke {name}) or choose another name")
            conn.execute(
                "INSERT INTO api_keys (name, hash, prefix, created, daily_usd, weekly_usd, "
                "tiers) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, hash_key(secret), key.prefix, key.created, daily, weekly,
                 ",".join(key.tiers)))
        with self._cache_lock:
            self._cache.clear()
        return key, secret

    def revoke(self, name: str) -> AgentKey:
        with self.ledger.write() as conn:
            now = time.time()
            if conn.execute("UPDATE api_keys SET revoked = ? WHERE name = ? AND revoked IS NULL",
                            (now, name)).rowcount == 0:
                live = [r[0] for r in conn.execute(
                    "SELECT name FROM api_keys WHERE revoked IS NULL")]
                raise UnknownKey(name, live)
            row = conn.execute("SELECT * FROM api_keys WHERE name = ? AND revoked = ?",
                               (name, now)).fetchone()
        with self._cache_lock:
            self._cache.clear()
        return _row_key(row)

    def list(self) -> list[AgentKey]:
        """Every key, live ones first, newest first."""
        with self.ledger.lock:
            rows = self.ledger.conn.execute(
                "SELECT * FROM api_keys ORDER BY revoked IS NOT NULL, created DESC").fetchall()
        return [_row_key(row) for row in rows]

    def live(self, name: str) -> AgentKey | None:
        with self.ledger.lock:
            row = self.ledger.conn.execute(
                "SELECT * FROM api_keys WHERE name = ? AND revoked IS NULL", (name,)).fetchone()
        return None if row is None else _row_key(row)

    def authenticate(self, secret: str) -> AgentKey | None:
        """The key `secret` is (revoked ones too: check `revoked`), or None."""
        digest = hash_key(secret)
        now = time.monotonic()
        with self._cache_lock:
            cached = self._cache.get(digest)
            if cached is not None and cached[0] > now:
                return cached[1]
        with self.ledger.lock:
            row = self.ledger.conn.execute("SELECT * FROM api_keys WHERE hash = ?",
                                           (digest,)).fetchone()
        found = None if row is None else _row_key(row)
        with self._cache_lock:
            if len(self._cache) > 1024:
                self._cache.clear()  # a client trying many keys must not grow it forever
            self._cache[digest] = (now + CACHE_TTL_S, found)
        return found
