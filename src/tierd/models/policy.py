"""Which resident models to evict so that a new one fits: a pure function of a host's state.

Kept apart from the manager so the rule can be read (and tested) without threads: idle,
unpinned, unreserved models that tierd loaded may go, lowest priority first and least recently
used among equals. A leased model is never evicted, nor a pinned one, nor one a scheduled job
is about to need, nor anything another client loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from tierd.sizes import format_size


@dataclass(frozen=True)
class Occupant:
    """A model tierd loaded on a host, as the eviction policy sees it."""

    name: str
    bytes: int
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
    bytes: int


@dataclass(frozen=True)
class Plan:
    need: int
    victims: tuple[str, ...]
    """Models to unload, in order; empty when the model fits as things stand."""
    fits: bool
    freeable: int
    """Free bytes plus what evicting every evictable model would give back."""
    held_by_leases: int
    """Bytes that would also become freeable once current leases end."""
    obstacles: tuple[str, ...]
    """One phrase per thing in the way, for the error message."""

    @property
    def fits_after_leases_end(self) -> bool:
        return self.freeable + self.held_by_leases >= self.need


def eviction_order(occupants: list[Occupant]) -> list[Occupant]:
    """Evictable occupants, first to go first: lowest priority, then least recently used."""
    return sorted((o for o in occupants if o.evictable), key=lambda o: (o.priority, o.last_used))


def plan_room(need: int, budget: int, occupants: list[Occupant],
              external: list[ExternalLoad]) -> Plan:
    """Pick the fewest victims, in eviction order, that leave `need` bytes free."""
    used = sum(o.bytes for o in occupants) + sum(e.bytes for e in external)
    free = budget - used
    victims: list[str] = []
    for occupant in eviction_order(occupants):
        if free >= need:
            break
        victims.append(occupant.name)
        free += occupant.bytes
    freeable = budget - used + sum(o.bytes for o in occupants if o.evictable)
    held_by_leases = sum(
        o.bytes for o in occupants if o.leases and not o.pinned and o.reserved_by is None
    )
    fits = free >= need
    return Plan(
        need=need,
        victims=tuple(victims) if fits else (),
        fits=fits,
        freeable=freeable,
        held_by_leases=held_by_leases,
        obstacles=() if fits else _obstacles(occupants, external),
    )


def _obstacles(occupants: list[Occupant], external: list[ExternalLoad]) -> tuple[str, ...]:
    phrases = []
    for o in sorted(occupants, key=lambda o: -o.bytes):
        size = format_size(o.bytes)
        if o.pinned:
            phrases.append(f"{o.name} is pinned ({size})")
        elif o.leases:
            plural = "lease" if o.leases == 1 else "leases"
            phrases.append(f"{o.name} is leased ({o.leases} {plural}, {size})")
        elif o.reserved_by is not None:
            phrases.append(f"{o.name} is reserved for job {o.reserved_by} ({size})")
    if external:
        names = ", ".join(e.name for e in external)
        total = sum(e.bytes for e in external)
        phrases.append(f"{format_size(total)} loaded by another client ({names})")
    return tuple(phrases)
