"""The vocabulary of routing: tiers, tasks, and which tasks are mechanical.

The split follows the rule the users route by (DESIGN.md): *does a human read the output, and
does it need thinking or only scanning?* Mechanical work over one prompt (classify, extract,
format, summarize, scan, embed) belongs on local models; mechanical work over many files or a
large context (repo_scan, bulk_edit, boilerplate, test_gen), which needs a reliable model but
not a strong one, on the cheap cloud tier; conversation and orchestration on a mid tier; code
on a code tier; long-form writing, architecture and final review on the frontier tier. The
defaults are the ones `[routing.tasks]` starts from (tierd.config.RoutingTasks).
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

MECHANICAL_TASKS = frozenset({"classify", "extract", "format", "summarize", "scan", "embed",
                              "repo_scan", "bulk_edit", "boilerplate", "test_gen"})
"""Tasks whose output a program reads or a human only scans: never worth a strong tier."""

DEFAULT_TASK_TIERS = RoutingTasks()
"""The tier each task has when the config says nothing: where a mechanical task goes back to
when it is kept off a strong tier."""


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


def own_tier(config: Config, task: str) -> str:
    """The tier a mechanical task is sent back to when routing.enforce keeps it off a strong
    one: its configured tier, or its built-in default when that too is strong."""
    configured = tier_of_task(config, task)
    return configured if configured not in STRONG_TIERS else getattr(DEFAULT_TASK_TIERS, task)


def tier_config(config: Config, tier: str) -> TierConfig:
    return getattr(config.routing.tiers, tier)


def route_names() -> list[str]:
    """The model names that route instead of naming a model."""
    return [AUTO] + [f"tier:{t}" for t in TIERS] + [f"task:{t}" for t in TASKS]
