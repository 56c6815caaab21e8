"""Which resident models to evict so that a new one fits: a pure function of a host's state.

Kept apart from the manager so the rule can be read (and tested) without threads: idle,
unpinned, unreserved models that tierd loaded may go, lowest priority first and least recently
used among equals. A leased model is never evicted, nor a pinned one, nor one a scheduled job
is about to need, nor anything another client loaded.

A host has one memory pool, or two where its accelerator has memory of its own (an NVIDIA
card's VRAM beside system RAM): sizes are bytes per pool, and a model must fit in every pool it
uses. Evicting a model that holds nothing in the pools still short would free nothing useful,
so it is passed over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from tierd.sizes import format_size

Usage = Mapping[str, int]
"""Bytes per memory pool ("memory" on a one-pool host; "gpu" and "ram" where they differ)."""

POOL_NAMES = {"gpu": "GPU memory", "ram": "RAM", "memory": "memory"}


def describe(usage: Usage) -> str:
    """"9.0GiB" on a one-pool host, "8.0GiB GPU memory + 1.0GiB RAM" on a two-pool one."""
    if len(usage) == 1:
        return format_size(next(iter(usage.values())))
    return " + ".join(f"{format_size(n)} {POOL_NAMES.get(p, p)}" for p, n in usage.items())


def total(usage: Usage) -> int:
    return sum(usage.values())


@dataclass(frozen=True)
class Occupant:
    """A model tierd loaded on a host, as the eviction policy sees it."""

    name: str
    bytes: Usage
    priority: int = 0
    last_used: float = 0.0
    leases: int = 0
    pinned: bool = False
    reserved_by: str | None = None
    """The scheduled job that declared it needs this model soon, if any."""

    @property
    def evictable(self) -> bool:
        return self.leases == 0 and not self.pinned and self.reserved_by is None


@dataclass(frozen=True)
class ExternalLoad:
    """Memory held by a model another client loaded: counted, never evicted."""

    name: str
    bytes: Usage


@dataclass(frozen=True)
class Plan:
    need: Usage
    victims: tuple[str, ...]
    """Models to unload, in order; empty when the model fits as things stand."""
    fits: bool
    freeable: Usage
    """Free bytes plus what evicting every evictable model would give back, per pool."""
    held_by_leases: Usage
    """Bytes that would also become freeable once current leases end, per pool."""
    obstacles: tuple[str, ...]
    """One phrase per thing in the way, for the error message."""

    @property
    def fits_after_leases_end(self) -> bool:
        return all(self.freeable[p] + self.held_by_leases[p] >= n for p, n in self.need.items())

    @property
    def short(self) -> Usage:
        """What is short of `need` in each pool that cannot hold it, even by evicting."""
        return {p: self.freeable[p] for p, n in self.need.items() if self.freeable[p] < n}


def eviction_order(occupants: list[Occupant]) -> list[Occupant]:
    """Evictable occupants, first to go first: lowest priority, then least recently used."""
    return sorted((o for o in occupants if o.evictable), key=lambda o: (o.priority, o.last_used))


def used_bytes(budgets: Usage, occupants: list[Occupant],
               external: list[ExternalLoad]) -> dict[str, int]:
    return {p: sum(o.bytes.get(p, 0) for o in occupants) + sum(e.bytes.get(p, 0) for e in external)
            for p in budgets}


def room_if_evicting(budgets: Usage, occupants: list[Occupant],
                     external: list[ExternalLoad]) -> dict[str, int]:
    """Per pool, the bytes free once every evictable model is gone."""
    used = used_bytes(budgets, occupants, external)
    return {p: budgets[p] - used[p] + sum(o.bytes.get(p, 0) for o in occupants if o.evictable)
            for p in budgets}


def plan_room(need: Usage, budgets: Usage, occupants: list[Occupant],
              external: list[ExternalLoad]) -> Plan:
    """Pick the fewest victims, in eviction order, that leave `need` free in every pool."""
    used = used_bytes(budgets, occupants, external)
    free = {p: budgets[p] - used[p] for p in budgets}
    victims: list[str] = []
    for occupant in eviction_order(occupants):
        short = [p for p, n in need.items() if free[p] < n]
        if not short:
            break
        if not any(occupant.bytes.get(p, 0) > 0 for p in short):
            continue
        victims.append(occupant.name)
        for p in budgets:
            free[p] += occupant.bytes.get(p, 0)
    held_by_leases = {
        p: sum(o.bytes.get(p, 0) for o in occupants
               if o.leases and not o.pinned and o.reserved_by is None)
        for p in budgets
    }
    fits = all(free[p] >= n for p, n in need.items())
    return Plan(
        need=dict(need),
        victims=tuple(victims) if fits else (),
        fits=fits,
        freeable=room_if_evicting(budgets, occupants, external),
        held_by_leases=held_by_leases,
        obstacles=() if fits else _obstacles(occupants, external),
    )


def _obstacles(occupants: list[Occupant], external: list[ExternalLoad]) -> tuple[str, ...]:
    phrases = []
    for o in sorted(occupants, key=lambda o: -total(o.bytes)):
        size = format_size(total(o.bytes))
        if o.pinned:
            phrases.append(f"{o.name} is pinned ({size})")
        elif o.leases:
            plural = "lease" if o.leases == 1 else "leases"
            phrases.append(f"{o.name} is leased ({o.leases} {plural}, {size})")
        elif o.reserved_by is not None:
            phrases.append(f"{o.name} is reserved for job {o.reserved_by} ({size})")
    if external:
        names = ", ".join(e.name for e in external)
        held = sum(total(e.bytes) for e in external)
        phrases.append(f"{format_size(held)} loaded by another client ({names})")
    return tuple(phrases)
