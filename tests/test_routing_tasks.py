"""The vocabulary of routing: every task has a default tier, the cheap tier has its tasks, and
mechanical work kept off a strong tier goes back to where it belongs."""

from __future__ import annotations

import dataclasses

from tierd.chat.request import ChatRequest
from tierd.config import RoutingTasks, RoutingVerify, parse_text
from tierd.routing.chains import Candidate
from tierd.routing.router import _unfit_reason
from tierd.routing.tasks import MECHANICAL_TASKS, STRONG_TIERS, TASKS, own_tier
from tierd.runtimes.ollama import chat_tokens_at_most, estimate_chat_tokens


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


def test_a_cloud_prompt_over_the_context_is_unfit_whether_or_not_the_length_bound_fits():
    """The length bound only spares the estimate where it already fits: at the edge the
    estimate decides, as it did before the bound."""
    long = ChatRequest.plain([{"role": "user", "content": "word " * 2000}])
    estimate, bound = estimate_chat_tokens(long), chat_tokens_at_most(long)
    assert estimate < bound
    for context, unfit in ((estimate - 1, True), (estimate, False), (bound, False)):
        candidate = Candidate("cloud", "standin", "m", frozenset({"completion"}), context)
        reason = _unfit_reason(candidate, frozenset(), long)
        assert (reason is not None and reason[0] == "context") == unfit, context
