"""The vocabulary of routing: tiers, tasks, and which tasks are mechanical.

The split follows the rule the users route by (DESIGN.md): *does a human read the output, and
does it need thinking or only scanning?* Mechanical work (classify, extract, format, summarize,
scan, embed) belongs on local models; conversation and orchestration on a mid tier; code on a
code tier; long-form writing, architecture and final review on the frontier tier. The
defaults here are the ones `[routing.tasks]` starts from.
"""

from __future__ import annotations

import dataclasses
import typing

from tierd.config import Config, RoutingTasks, TierConfig, TierName
from tierd.errors import TierdError

TIERS: tuple[str, ...] = typing.get_args(TierName)
"""Cheapest first."""

STRONG_TIERS = frozenset({"mid", "code", "frontier"})
"""Tiers whose price only pays off when a human reads the result and it needs thinking."""

TASKS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RoutingTasks))

AUTO = "auto"
"""The model name that asks tierd to pick the task (header, else classifier) and its tier."""

MECHANICAL_TASKS = frozenset({"classify", "extract", "format", "summarize", "scan", "embed"})
"""Tasks whose output a program reads or a human only scans: never worth a strong tier."""


class UnknownTier(TierdError):
    http_status = 404

    def __init__(self, name: str):
        super().__init__(f"unknown tier {name!r} (known tiers: {', '.join(TIERS)})")


class UnknownTask(TierdError):
    http_status = 400

    def __init__(self, name: str, where: str):
        super().__init__(f"{where}: unknown task {name!r} (known tasks: {', '.join(TASKS)})")


def check_task(name: str, where: str) -> str:
    if name not in TASKS:
        raise UnknownTask(name, where)
    return name


def check_tier(name: str) -> str:
    if name not in TIERS:
        raise UnknownTier(name)
    return name


def tier_of_task(config: Config, task: str) -> str:
    return getattr(config.routing.tasks, task)


def tier_config(config: Config, tier: str) -> TierConfig:
    return getattr(config.routing.tiers, tier)


def route_names() -> list[str]:
    """The model names that route instead of naming a model."""
    return [AUTO] + [f"tier:{t}" for t in TIERS] + [f"task:{t}" for t in TASKS]
