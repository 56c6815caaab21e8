"""The vocabulary of routing: every task has a default tier, the cheap tier has its tasks, and
mechanical work kept off a strong tier goes back to where it belongs."""

from __future__ import annotations

import dataclasses

from tierd.config import RoutingTasks, RoutingVerify, parse_text
from tierd.routing.tasks import MECHANICAL_TASKS, STRONG_TIERS, TASKS, own_tier


def test_mechanical_work_over_many_files_defaults_to_the_cheap_tier():
    cheap = {task for task in TASKS if getattr(RoutingTasks(), task) == "cheap"}
    assert cheap == {"repo_scan", "bulk_edit", "boilerplate", "test_gen"}
    assert cheap <= MECHANICAL_TASKS
    assert not any(getattr(RoutingTasks(), task) in STRONG_TIERS for task in MECHANICAL_TASKS)


def test_a_mechanical_task_configured_onto_a_strong_tier_goes_back_to_its_default():
    config = parse_text('[routing.tasks]\nrepo_scan = "frontier"\nclassify = "mid"\n'
                        'extract = "cheap"\n')
    assert own_tier(config, "repo_scan") == "cheap"
    assert own_tier(config, "classify") == "local"
    assert own_tier(config, "extract") == "cheap"  # not strong: the config's choice stands


def test_routing_verify_has_a_switch_for_every_task_and_defaults_on():
    assert [f.name for f in dataclasses.fields(RoutingVerify)] == list(TASKS)
    assert all(getattr(RoutingVerify(), task) for task in TASKS)
    config = parse_text("[routing.verify]\nformat = false\n")
    assert config.routing.verify.format is False and config.routing.verify.extract is True
