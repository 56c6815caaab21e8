"""The model manager: the one owner of load and unload decisions, and of the queue per model.

Everything that wants a local model asks for a `Lease`; the manager loads the model if needed,
evicting idle models by policy (see `policy`), and never evicts a model while a lease on it is
alive. As in Ollama's scheduler and llama-swap's router, one decision runs at a time per host:
a lease for a model that is already resident is taken at once, anything that has to change
what is loaded waits for the host's turn.

Requests (`request()`: a generation or an embedding, from the API, the CLI, a job or a
benchmark) also take one of the model's `parallel` slots, waiting in that model's one queue,
first come first served, at most `queue_limit` deep. A full queue or a wait past the timeout is
a QueueFull whose Retry-After comes from one rule (`_retry_after`). Plain leases (`lease()`)
only keep a model resident: a job holds its models for a whole run while its requests queue
like anyone else's.

Memory is accounted from what the runtime reports (`runtime.loaded()`, re-read before every
decision) and, for a model not yet loaded, from the footprint measured on its last load, or an
estimate from its metadata when it has never been loaded with these settings.

Two clocks: `clock` (injectable) stamps last use and places job reservations in time; queue
waits are bounded in real seconds, since a thread can only wait in real time.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Mapping

from tierd.errors import CapacityExhausted, QueueFull, TierdError, UnknownHost, UnknownModel
from tierd.models.estimate import estimate_model_bytes
from tierd.models.footprints import FootprintStore
from tierd.models.policy import ExternalLoad, Occupant, Plan, plan_room
from tierd.runtimes.base import LoadedModel, ModelInfo, Runtime
from tierd.sizes import format_size

DEFAULT_CONTEXT_LENGTH = 4096
"""Context to load with when none is configured (Ollama's default under 24 GiB), capped by the
model's own trained length."""


class LoadFailed(TierdError):
    """The runtime failed to load a model; nothing of it is counted as loaded."""

    http_status = 502


class ModelBusy(TierdError):
    """An unload was refused because the model is in use or is not tierd's to unload."""

    http_status = 409


@dataclass(frozen=True)
class ModelSettings:
    """How one model is treated on its host (from the config's [[models]] entries)."""

    priority: int = 0
    """Higher survives eviction longer."""
    pinned: bool = False
    """Never evicted; loaded by warm_up()."""
    keep_warm: bool = False
    """Loaded by warm_up() when it fits without evicting anything."""
    context_length: int = 0
    """0 means DEFAULT_CONTEXT_LENGTH, capped by the model's trained context."""
    cache_type: str = "f16"
    parallel: int = 1
    """Requests the model serves at once; a llama.cpp context serves one at a time."""


@dataclass(frozen=True)
class HostSlot:
    """A host as the manager needs it: its runtime, its budget, its models' settings."""

    runtime: Runtime
    budget: int
    """Bytes tierd may fill with models here (probe result or the config's memory_budget)."""
    models: Mapping[str, ModelSettings] = field(default_factory=dict)


@dataclass(frozen=True)
class JobReservation:
    job: str
    models: frozenset[str]
    busy_from: float
    busy_until: float


@dataclass
class _Resident:
    """A model tierd loaded (or adopted) on a host; mutated only under the host's condition."""

    name: str
    context_length: int
    cache_type: str
    bytes: int
    estimated_bytes: int
    leases: int = 0
    last_used: float = 0.0
    """On the manager's clock: what eviction orders by."""
    last_used_at: float | None = None
    """The same moment as Unix time, for people and the page (None: adopted, never used)."""
    evicting: bool = False
    load_seconds: float | None = None
    """How long its load took (None for a model adopted from the runtime)."""


@dataclass
class _Queue:
    """One model's requests: those holding a slot and those waiting for one, in order."""

    running: int = 0
    waiters: deque = field(default_factory=deque)
    mean_seconds: float = 0.0
    """Recent requests' slot time (an exponential average), for Retry-After."""


SERVICE_TIME_WEIGHT = 0.2
"""Weight of the newest request in `_Queue.mean_seconds`: follows a model's pace within a few
requests without one slow reply deciding it."""


@dataclass
class _HostState:
    name: str
    slot: HostSlot
    cond: threading.Condition = field(default_factory=threading.Condition)
    deciding: bool = False
    """A load or unload decision for this host is in progress (its runtime calls included)."""
    waiting: int = 0
    """Callers waiting for this host's decision turn (a load or an unload of another model)."""
    queues: dict[str, _Queue] = field(default_factory=dict)
    resident: dict[str, _Resident] = field(default_factory=dict)
    external: list[LoadedModel] = field(default_factory=list)
    available: dict[str, ModelInfo] = field(default_factory=dict)
    pinned_overrides: dict[str, bool] = field(default_factory=dict)


class Lease:
    """A promise that `model` stays loaded on `host` until released (a context manager); a
    request's lease also holds one of the model's slots."""

    def __init__(self, manager: ModelManager, host: str, model: str, slot: bool = False):
        self.host = host
        self.model = model
        self.slot = slot
        self._manager = manager
        self._released = False
        self._lock = threading.Lock()
        self._since = time.monotonic()

    def release(self) -> None:
        """Give the model (and the slot) back; releasing twice is harmless."""
        with self._lock:
            if self._released:
                return
            self._released = True
        self._manager._release(self.host, self.model, self.slot,
                               time.monotonic() - self._since)

    @property
    def released(self) -> bool:
        return self._released

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "released" if self._released else "held"
        return f"<Lease {self.model} on {self.host} ({state})>"


class ModelManager:
    def __init__(
        self,
        hosts: Mapping[str, HostSlot],
        footprints: FootprintStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        queue_limit: int = 16,
        queue_timeout: float = 120.0,
    ):
        self._hosts = {name: _HostState(name, slot) for name, slot in hosts.items()}
        self._footprints = footprints or FootprintStore.in_memory()
        self._clock = clock
        self._queue_limit = queue_limit
        self._queue_timeout = queue_timeout
        self._reservations: dict[str, JobReservation] = {}
        self._reservations_lock = threading.Lock()

    # -- public API ----------------------------------------------------------------------------

    def now(self) -> float:
        """The manager's clock, on which last use and job reservations are placed."""
        return self._clock()

    def request(self, model: str, host: str | None = None,
                timeout: float | None = None) -> Lease:
        """A request's turn on `model`: one of its slots, after those queued before it, and a
        lease (loading the model first if needed).

        Waits at most `timeout` seconds (default: queue_timeout) in all. Raises QueueFull (the
        queue is `queue_limit` deep already, or the wait ran out), UnknownModel, UnknownHost,
        CapacityExhausted or LoadFailed.
        """
        state = self._host_for(model, host)
        timeout = self._queue_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        self._take_slot(state, model, deadline, timeout)
        try:
            self._lease_on(state, model, deadline)
        except BaseException:
            self._free_slot(state, model)
            raise
        return Lease(self, state.name, model, slot=True)

    def lease(self, model: str, host: str | None = None, timeout: float | None = None) -> Lease:
        """Keep `model` resident (loading it first if needed) without taking a request slot:
        for a job's whole run, a benchmark's hold, an explicit load.

        Waits at most `timeout` seconds (default: queue_timeout) for the host's turn and for
        leases that stand in the way to end. Raises UnknownModel, UnknownHost, QueueFull,
        CapacityExhausted or LoadFailed.
        """
        state = self._host_for(model, host)
        deadline = time.monotonic() + (self._queue_timeout if timeout is None else timeout)
        self._lease_on(state, model, deadline)
        return Lease(self, state.name, model)

    def _lease_on(self, state: _HostState, model: str, deadline: float) -> None:
        if self._take_turn(state, model, deadline, lease_if_resident=True):
            return
        try:
            self._load_with_turn(state, model, deadline, evict=True, take_lease=True)
        finally:
            self._end_turn(state)

    def load(self, model: str, host: str | None = None, timeout: float | None = None) -> None:
        """Make `model` resident without holding it (it stays until evicted)."""
        self.lease(model, host, timeout).release()

    def unload(self, model: str, host: str | None = None, timeout: float | None = None) -> bool:
        """Unload `model`; False when it was not loaded. Refused while it is leased."""
        state = self._host_for(model, host)
        deadline = time.monotonic() + (self._queue_timeout if timeout is None else timeout)
        self._take_turn(state, model, deadline, lease_if_resident=False)
        try:
            self._sync(state, state.slot.runtime.loaded())
            with state.cond:
                if any(m.name == model for m in state.external):
                    raise ModelBusy(f"{model} on {state.name} was loaded by another client; "
                                    "tierd does not unload it")
                resident = state.resident.get(model)
                if resident is None:
                    return False
                if resident.leases:
                    raise ModelBusy(f"{model} on {state.name} is in use ({resident.leases} "
                                    "leases); try again when they end")
                resident.evicting = True
            self._unload(state, [model])
            return True
        finally:
            self._end_turn(state)

    def pin(self, model: str, host: str | None = None) -> None:
        """Never evict `model` on its host, and load it now."""
        state = self._host_for(model, host)
        with state.cond:
            state.pinned_overrides[model] = True
        self.load(model, state.name)

    def unpin(self, model: str, host: str | None = None) -> None:
        """Let `model` be evicted again (it stays loaded until it is)."""
        state = self._host_for(model, host)
        with state.cond:
            state.pinned_overrides[model] = False

    def reserve_for_job(self, job: str, models: list[str], start_at: float,
                        warmup_seconds: float, grace_seconds: float = 60.0) -> JobReservation:
        """Declare that `job` needs `models` at `start_at` (on the manager's clock).

        From `warmup_seconds` before the start until `grace_seconds` after it, those models are
        treated as busy (not evicted) and warm_up() loads them. A job's new reservation replaces
        its previous one.
        """
        for model in models:
            self._host_for(model, None)
        reservation = JobReservation(job, frozenset(models), start_at - warmup_seconds,
                                     start_at + grace_seconds)
        with self._reservations_lock:
            self._reservations[job] = reservation
        return reservation

    def cancel_reservation(self, job: str) -> None:
        with self._reservations_lock:
            self._reservations.pop(job, None)

    def warm_up(self) -> dict[str, str]:
        """Load pinned, keep-warm and job-reserved models that are not resident.

        Pinned and reserved models may evict idle ones; keep-warm models only take free room.
        A host busy with another decision is skipped (call again later). Returns, per model, what
        happened: "loaded", or why not.
        """
        outcome: dict[str, str] = {}
        reserved = self._reserved_now()
        for state in self._hosts.values():
            wanted = []
            for name in self._available(state):
                settings = self._settings(state, name)
                pinned = self._is_pinned(state, name)
                if pinned or name in reserved:
                    wanted.append((0, -settings.priority, name, True))
                elif settings.keep_warm:
                    wanted.append((1, -settings.priority, name, False))
            for _, _, name, evict in sorted(wanted):
                with state.cond:
                    if name in state.resident:
                        continue
                try:
                    # No waiting: a host busy with another decision raises QueueFull at once.
                    self._take_turn(state, name, time.monotonic(), lease_if_resident=False)
                    try:
                        self._load_with_turn(state, name, time.monotonic(), evict=evict,
                                             take_lease=False)
                    finally:
                        self._end_turn(state)
                    outcome[name] = "loaded"
                except TierdError as err:
                    outcome[name] = str(err)
        return outcome

    def snapshot(self) -> dict:
        """Per host: budget, used, free, queue depth, resident models and external loads.

        Reflects the last load decision (no runtime call), so it is cheap enough for /status.
        """
        reserved = self._reserved_now()
        hosts = {}
        for state in self._hosts.values():
            with state.cond:
                models = []
                for r in sorted(state.resident.values(), key=lambda r: r.name):
                    settings = self._settings(state, r.name)
                    models.append({
                        "name": r.name,
                        "bytes": r.bytes,
                        "estimated_bytes": r.estimated_bytes,
                        "context_length": r.context_length,
                        "cache_type": r.cache_type,
                        "pinned": self._is_pinned(state, r.name),
                        "priority": settings.priority,
                        "keep_warm": settings.keep_warm,
                        "leases": r.leases,
                        "running": state.queues[r.name].running if r.name in state.queues else 0,
                        "waiting": len(state.queues[r.name].waiters)
                        if r.name in state.queues else 0,
                        "last_used": r.last_used_at,
                        "reserved_for": reserved.get(r.name),
                        "load_seconds": r.load_seconds,
                    })
                external = [{"name": m.name, "bytes": m.bytes} for m in state.external]
                used = sum(m["bytes"] for m in models) + sum(m["bytes"] for m in external)
                hosts[state.name] = {
                    "budget": state.slot.budget,
                    "used": used,
                    "free": state.slot.budget - used,
                    "queue_depth": state.waiting,
                    "deciding": state.deciding,
                    "models": models,
                    "external": external,
                }
        return hosts

    def queues(self) -> dict[str, dict[str, int]]:
        """Requests running on and waiting for each model that has any, across hosts."""
        depth: dict[str, dict[str, int]] = {}
        for state in self._hosts.values():
            with state.cond:
                for name, queue in state.queues.items():
                    if queue.running or queue.waiters:
                        counts = depth.setdefault(name, {"running": 0, "waiting": 0})
                        counts["running"] += queue.running
                        counts["waiting"] += len(queue.waiters)
        return depth

    def busy(self) -> bool:
        """True while any request runs or waits (what a shutdown drains)."""
        return bool(self.queues())

    # -- the queue per model ---------------------------------------------------------------------

    def _take_slot(self, state: _HostState, model: str, deadline: float, timeout: float) -> None:
        parallel = max(1, self._settings(state, model).parallel)
        with state.cond:
            queue = state.queues.setdefault(model, _Queue())
            if queue.running < parallel and not queue.waiters:
                queue.running += 1
                return
            if len(queue.waiters) >= self._queue_limit:
                raise QueueFull(
                    f"{model} has {len(queue.waiters)} requests waiting already (queue limit "
                    f"{self._queue_limit}); retry shortly",
                    retry_after=self._retry_after(queue, parallel))
            ticket = object()
            queue.waiters.append(ticket)
            try:
                while queue.running >= parallel or queue.waiters[0] is not ticket:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise QueueFull(f"waited {timeout:g}s for {model} without getting a "
                                        "turn; retry later",
                                        retry_after=self._retry_after(queue, parallel))
                    state.cond.wait(remaining)
                queue.running += 1
            finally:
                queue.waiters.remove(ticket)
                state.cond.notify_all()

    def _free_slot(self, state: _HostState, model: str, held: float | None = None) -> None:
        with state.cond:
            queue = state.queues[model]
            queue.running -= 1
            if held is not None:
                queue.mean_seconds = (held if not queue.mean_seconds else
                                      (1 - SERVICE_TIME_WEIGHT) * queue.mean_seconds
                                      + SERVICE_TIME_WEIGHT * held)
            state.cond.notify_all()

    def _retry_after(self, queue: _Queue, parallel: int) -> float:
        """The one Retry-After rule: when the requests ahead would be through at the pace of
        recent requests, at least a second and at most the queue timeout."""
        ahead = queue.running + len(queue.waiters)
        estimate = math.ceil(queue.mean_seconds * ahead / parallel) if queue.mean_seconds else 1
        return float(min(max(1, estimate), max(1, math.ceil(self._queue_timeout))))

    # -- turns: one decision per host at a time -------------------------------------------------

    def _take_turn(self, state: _HostState, model: str, deadline: float,
                   lease_if_resident: bool) -> bool:
        """Wait for this host's decision slot. True means a lease was taken instead, because the
        model became resident while waiting (the concurrent same-model case)."""
        queued = False
        with state.cond:
            try:
                while True:
                    resident = state.resident.get(model)
                    if lease_if_resident and resident is not None and not resident.evicting:
                        resident.leases += 1
                        self._touch(resident)
                        return True
                    if not state.deciding:
                        state.deciding = True
                        return False
                    if not queued:
                        state.waiting += 1
                        queued = True
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        queue = state.queues.get(model, _Queue())
                        raise QueueFull(
                            f"{model} waited its whole timeout for host {state.name}, which is "
                            "busy loading or unloading other models",
                            retry_after=self._retry_after(
                                queue, max(1, self._settings(state, model).parallel)),
                        )
                    state.cond.wait(remaining)
            finally:
                if queued:
                    state.waiting -= 1

    def _end_turn(self, state: _HostState) -> None:
        with state.cond:
            state.deciding = False
            state.cond.notify_all()

    # -- the load decision (runs only while holding the host's turn) ---------------------------

    def _load_with_turn(self, state: _HostState, model: str, deadline: float, evict: bool,
                        take_lease: bool) -> None:
        info = self._available(state)[model]
        settings = self._settings(state, model)
        context_length = self._context_length(info, settings)
        cache_type = settings.cache_type
        measured = self._footprints.lookup(state.name, model, context_length, cache_type)
        estimated = estimate_model_bytes(info, context_length, cache_type).total
        need = measured if measured is not None else estimated
        basis = "measured" if measured is not None else "estimated"
        if need > state.slot.budget:
            raise CapacityExhausted(
                f"{model} needs {format_size(need)} ({basis}) on {state.name}, more than the "
                f"host's whole budget of {format_size(state.slot.budget)}"
            )
        victims = self._make_room(state, model, need, basis, deadline, evict, take_lease)
        if victims is None:
            return  # became resident (adopted from the runtime) and leased meanwhile
        self._unload(state, victims)
        started = time.monotonic()
        try:
            loaded = state.slot.runtime.load(model, context_length)
        except TierdError:
            raise
        except Exception as err:
            raise LoadFailed(f"loading {model} on {state.name} failed: {err}") from err
        self._footprints.record(state.name, model, context_length, cache_type, loaded.bytes)
        if loaded.bytes > need:
            self._settle_overrun(state, model, loaded.bytes, need, basis)
        with state.cond:
            state.resident[model] = _Resident(
                name=model,
                context_length=context_length,
                cache_type=cache_type,
                bytes=loaded.bytes,
                estimated_bytes=estimated,
                leases=1 if take_lease else 0,
                last_used=self._clock(),
                last_used_at=time.time(),
                load_seconds=round(time.monotonic() - started, 3),
            )

    def _make_room(self, state: _HostState, model: str, need: int, basis: str,
                   deadline: float, evict: bool, take_lease: bool) -> list[str] | None:
        """Choose victims (marked evicting) so that `need` bytes fit; wait for leases that are
        the only obstacle. None when the model turned out to be resident already."""
        while True:
            self._sync(state, state.slot.runtime.loaded())
            with state.cond:
                resident = state.resident.get(model)
                if resident is not None:
                    if take_lease:
                        resident.leases += 1
                        self._touch(resident)
                    return None
                plan = plan_room(need, state.slot.budget, self._occupants(state),
                                 [ExternalLoad(m.name, m.bytes) for m in state.external])
                if plan.fits and (evict or not plan.victims):
                    for name in plan.victims:
                        state.resident[name].evicting = True
                    return list(plan.victims)
                remaining = deadline - time.monotonic()
                if not evict or not plan.fits_after_leases_end or remaining <= 0:
                    raise CapacityExhausted(self._capacity_message(state, model, need, basis,
                                                                   plan, evict))
                # Only leases are in the way: wait for a release, then look again.
                state.cond.wait(remaining)

    def _settle_overrun(self, state: _HostState, model: str, measured: int, expected: int,
                        basis: str) -> None:
        """The runtime reports more than we planned for: evict more, or undo the load."""
        with state.cond:
            plan = plan_room(measured, state.slot.budget, self._occupants(state),
                             [ExternalLoad(m.name, m.bytes) for m in state.external])
            for name in plan.victims:
                state.resident[name].evicting = True
        if plan.fits:
            self._unload(state, list(plan.victims))
            return
        state.slot.runtime.unload(model)
        raise CapacityExhausted(
            f"{model} measured {format_size(measured)} on {state.name} once loaded, more than the "
            f"{format_size(expected)} {basis}, and only {format_size(plan.freeable)} can be "
            f"freed: {'; '.join(plan.obstacles) or 'nothing else is loaded'}; it was unloaded "
            "again (the measured size is kept for next time)"
        )

    def _unload(self, state: _HostState, names: list[str]) -> None:
        for name in names:
            try:
                state.slot.runtime.unload(name)
            except BaseException:
                with state.cond:
                    for rest in names:
                        if rest in state.resident:
                            state.resident[rest].evicting = False
                raise
            with state.cond:
                state.resident.pop(name, None)

    def _release(self, host: str, model: str, slot: bool, held: float) -> None:
        state = self._hosts[host]
        with state.cond:
            resident = state.resident.get(model)
            if resident is not None and resident.leases > 0:
                resident.leases -= 1
                self._touch(resident)
            state.cond.notify_all()
        if slot:
            self._free_slot(state, model, held)

    # -- bookkeeping ------------------------------------------------------------------------------

    def _sync(self, state: _HostState, loaded: list[LoadedModel]) -> None:
        """Bring our view in line with what the runtime says is resident.

        A model of ours that vanished (expired or unloaded by hand) is dropped unless leased; a
        model the runtime lists as its own that we did not load (from before a restart) is
        adopted as idle; anything else is someone else's and only counted.
        """
        known = self._available(state)
        with state.cond:
            listed = {m.name: m for m in loaded}
            external = []
            for m in loaded:
                resident = state.resident.get(m.name)
                if resident is not None and not m.external:
                    resident.bytes = m.bytes
                elif not m.external and m.name in known:
                    state.resident[m.name] = _Resident(
                        name=m.name, context_length=m.context_length,
                        cache_type=self._settings(state, m.name).cache_type,
                        bytes=m.bytes, estimated_bytes=m.bytes,
                    )
                else:
                    external.append(m)
            state.external = external
            for name in [n for n, r in state.resident.items()
                         if n not in listed and not r.leases and not r.evicting]:
                del state.resident[name]

    def _occupants(self, state: _HostState) -> list[Occupant]:
        reserved = self._reserved_now()
        return [
            Occupant(
                name=r.name,
                bytes=r.bytes,
                priority=self._settings(state, r.name).priority,
                last_used=r.last_used,
                leases=r.leases,
                pinned=self._is_pinned(state, r.name),
                reserved_by=reserved.get(r.name),
            )
            for r in state.resident.values()
            if not r.evicting
        ]

    def _capacity_message(self, state: _HostState, model: str, need: int, basis: str,
                          plan: Plan, evict: bool) -> str:
        if not evict:
            return (f"{model} needs {format_size(need)} ({basis}) on {state.name} but only "
                    f"{format_size(state.slot.budget - self._used(state))} is free and it may "
                    "not evict other models")
        obstacles = "; ".join(plan.obstacles) or "nothing else is loaded"
        return (f"{model} needs {format_size(need)} ({basis}) on {state.name} but only "
                f"{format_size(max(plan.freeable, 0))} can be freed: {obstacles}")

    def _used(self, state: _HostState) -> int:
        return (sum(r.bytes for r in state.resident.values())
                + sum(m.bytes for m in state.external))

    def _reserved_now(self) -> dict[str, str]:
        now = self._clock()
        with self._reservations_lock:
            for job in [j for j, r in self._reservations.items() if r.busy_until < now]:
                del self._reservations[job]
            return {model: r.job for r in self._reservations.values()
                    if r.busy_from <= now for model in r.models}

    def _touch(self, resident: _Resident) -> None:
        resident.last_used = self._clock()
        resident.last_used_at = time.time()

    def _settings(self, state: _HostState, model: str) -> ModelSettings:
        return state.slot.models.get(model, ModelSettings())

    def _is_pinned(self, state: _HostState, model: str) -> bool:
        return state.pinned_overrides.get(model, self._settings(state, model).pinned)

    @staticmethod
    def _context_length(info: ModelInfo, settings: ModelSettings) -> int:
        wanted = settings.context_length or DEFAULT_CONTEXT_LENGTH
        return min(wanted, info.context_length) if info.context_length > 0 else wanted

    def _available(self, state: _HostState, refresh: bool = False) -> dict[str, ModelInfo]:
        if refresh or not state.available:
            state.available = {m.name: m for m in state.slot.runtime.available()}
        return state.available

    def _host_for(self, model: str, host: str | None) -> _HostState:
        """The named host, else the one where `model` is resident, else the first that has
        settings for it, else the first whose runtime offers it."""
        if host is not None:
            if host not in self._hosts:
                raise UnknownHost(host, list(self._hosts))
            state = self._hosts[host]
            if model not in self._available(state) and model not in self._available(state, True):
                raise UnknownModel(model, list(state.available))
            return state
        offering = [s for s in self._hosts.values() if model in self._available(s)]
        if not offering:
            offering = [s for s in self._hosts.values() if model in self._available(s, True)]
        if not offering:
            known = {name for s in self._hosts.values() for name in s.available}
            raise UnknownModel(model, list(known))
        for preferred in (lambda s: model in s.resident, lambda s: model in s.slot.models):
            for state in offering:
                if preferred(state):
                    return state
        return offering[0]
