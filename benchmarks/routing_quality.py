"""How well tierd routes prompts it was not tuned on, how long deciding takes, and what the
users' day costs routed that way.

    .venv/bin/python benchmarks/routing_quality.py [--runs 3]
        [--split test|tune|dev|dev2|dev3|dev4|dev5|dev6]

The classifier is the one a running tierd uses (`Tierd.exemplars`): rules first, the shipped
exemplars embedded with the packaged MiniLM through the model manager (queued and leased like
any request), every decision as a request would get it. Prompts come from the labelled data
set's test part (nothing was tuned on it), with `--split tune` from its tuning part (the
exemplars themselves), or with `--split dev`, `dev2`, `dev3`, `dev4`, `dev5` or `dev6` from a
development set that tuning decisions are made on (benchmarks/data/routing_dev.jsonl, used up
writing the rules; routing_dev2.jsonl, routing_dev3.jsonl and routing_dev4.jsonl, written later
from the task definitions alone; the fourth heavy on grunt work over pasted material;
routing_dev5.jsonl and routing_dev6.jsonl, written blind from the task definitions as the checks
run once after tuning stops).
The misroutes are listed by prompt on every part but the test part, so that nothing is tuned
on it.

It prints, each against a baseline measured in the same run:
- task and tier accuracy, beside the rules alone, and the confusion by tier (labelled rows,
  routed columns);
- classifier latency p50/p99 over all prompts and over those that needed an embedding (no
  rule fired), beside the rules alone and a bare embedding of the same text in this process
  (no queue, no lease); and every prompt embedded, as when user exemplars exist;
- the exemplars alone: every prompt decided as one no rule knows is (the exemplars, else the
  default task), the path the rules' misses take — its accuracy, local-tier prompts sent to a
  paid tier, and its day;
- the users' day replayed with these prompts: about 96 cron calls of ~20k tokens in / 600 out
  (the prompts labelled for the local tier, in turn), 8 conversations of 2k in / 1k out (the
  mid tier's) and 2 long-form pieces of 4k in / 3k out (the writing prompts), each priced at
  the first priced model of the tier it lands on (local $0) with the current price table —
  routed by tierd vs routed as labelled vs everything on the frontier model.

Targets (exit 1 when one is missed): task accuracy >= 0.92; no frontier-labelled prompt routed
below mid; the day routed by tierd within 10 % of the day routed as labelled; classifier p50
<= 20 ms over all prompts, embedding included.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

import numpy as np  # noqa: E402

from tierd.app import open_tierd  # noqa: E402
from tierd.config import Config, RoutingTasks, RoutingTiers, load_config  # noqa: E402
from tierd.costs.prices import Price, UnknownPrice, cost_usd, price_for  # noqa: E402
from tierd.routing.classifier import DEFAULT_RULE, Classification, classify  # noqa: E402
from tierd.routing.semantic import (  # noqa: E402
    LabelledPrompt,
    combine,
    compare,
    instruction_text,
    load_labelled,
)
from tierd.routing.tasks import TIERS  # noqa: E402
from tierd.runtimes.packaged import ensure_packaged  # noqa: E402

DEV_SETS = {"dev": REPO / "benchmarks" / "data" / "routing_dev.jsonl",
            "dev2": REPO / "benchmarks" / "data" / "routing_dev2.jsonl",
            "dev3": REPO / "benchmarks" / "data" / "routing_dev3.jsonl",
            "dev4": REPO / "benchmarks" / "data" / "routing_dev4.jsonl",
            "dev5": REPO / "benchmarks" / "data" / "routing_dev5.jsonl",
            "dev6": REPO / "benchmarks" / "data" / "routing_dev6.jsonl"}
EMBEDDER = "packaged:all-minilm"

ACCURACY_TARGET = 0.92
DAY_TOLERANCE = 0.10
P50_TARGET_MS = 20.0

CRON_CALLS, CRON_IN, CRON_OUT = 96, 20_000, 600
CONVERSATIONS, CONVERSATION_IN, CONVERSATION_OUT = 8, 2_000, 1_000
LONG_FORM, LONG_FORM_IN, LONG_FORM_OUT = 2, 4_000, 3_000
FRONTIER = "frontier"
STRONG = ("mid", "code", "frontier")


@dataclass(frozen=True)
class Routed:
    prompt: LabelledPrompt
    task: str
    source: str
    rules_task: str
    needed_embedding: bool


def tier_of(task: str) -> str:
    return getattr(RoutingTasks(), task)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def prompts_of(split: str) -> list[LabelledPrompt]:
    if split in DEV_SETS:
        return load_labelled(DEV_SETS[split])
    return [p for p in load_labelled() if p.split == split]


def tier_prices(config: Config) -> dict[str, tuple[str, float, float]]:
    """(model, $/Mtok in, $/Mtok out) of the first priced candidate of each default tier; the
    local tier's first candidate is a local model, so $0."""
    prices = {}
    for tier in TIERS:
        if tier == "local":
            prices[tier] = ("a local model", 0.0, 0.0)
            continue
        for model in getattr(RoutingTiers(), tier).candidates:
            try:
                price = price_for(config, "cloud", model)
            except UnknownPrice:
                continue
            prices[tier] = (model, price.input_per_mtok, price.output_per_mtok)
            break
    return prices


def call_usd(prices: dict, tier: str, tokens_in: int, tokens_out: int) -> float:
    _, rate_in, rate_out = prices[tier]
    return cost_usd(Price(rate_in, rate_out), tokens_in, tokens_out)


def the_day(prompts: list[LabelledPrompt]) -> list[tuple[LabelledPrompt, int, int]]:
    """(prompt, tokens in, tokens out) for each call of the day, in a fixed order: every cron
    prompt in turn (by id) until 96 calls, and so on."""
    def cycle(pool: list[LabelledPrompt], count: int) -> list[LabelledPrompt]:
        pool = sorted(pool, key=lambda p: p.id)
        return [pool[n % len(pool)] for n in range(count)] if pool else []

    cron = cycle([p for p in prompts if tier_of(p.task) == "local"], CRON_CALLS)
    talk = cycle([p for p in prompts if tier_of(p.task) == "mid"], CONVERSATIONS)
    long_form = cycle([p for p in prompts if p.task == "writing"], LONG_FORM)
    return ([(p, CRON_IN, CRON_OUT) for p in cron]
            + [(p, CONVERSATION_IN, CONVERSATION_OUT) for p in talk]
            + [(p, LONG_FORM_IN, LONG_FORM_OUT) for p in long_form])


def time_decisions(app, prompts: list[LabelledPrompt], runs: int) -> tuple[list[Routed],
                                                                          list[float]]:
    """Each prompt decided `runs` times, as a request would be (the first pass was a warm-up,
    outside this); the decisions and every duration in ms."""
    durations, routed = [], []
    for run in range(runs):
        for prompt in prompts:
            started = time.perf_counter()
            decision = app.exemplars.decide(app, prompt.messages)
            durations.append((time.perf_counter() - started) * 1000)
            if run == 0:
                rules = classify(prompt.messages, app.config.routing.default_task)
                routed.append(Routed(prompt, decision.task, decision.source, rules.task,
                                     decision.semantic is not None))
    return routed, durations


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("test", "tune", *DEV_SETS), default="test")
    parser.add_argument("--runs", type=int, default=3, help="timed passes over the prompts")
    args = parser.parse_args()
    prompts = prompts_of(args.split)

    with tempfile.TemporaryDirectory() as scratch:
        state = Path(scratch)
        ensure_packaged(EMBEDDER, state / "models")
        (state / "config.toml").write_text(f'state_dir = "{state}"\n')
        config = load_config(state / "config.toml")
        app = open_tierd(config)
        started = time.perf_counter()
        index, embedding = app.exemplars.ready(app)
        build_s = time.perf_counter() - started
        for prompt in prompts:  # warm-up: the model loaded, caches warm
            app.exemplars.decide(app, prompt.messages)
        routed, durations = time_decisions(app, prompts, args.runs)

        needed = [p for p in prompts if classify(p.messages).rule == DEFAULT_RULE]
        _, needed_durations = time_decisions(app, needed, args.runs) if needed else ([], [])
        rules_ms = []
        for _ in range(args.runs):
            for prompt in prompts:
                t = time.perf_counter()
                classify(prompt.messages)
                rules_ms.append((time.perf_counter() - t) * 1000)
        runtime = app.runtimes[embedding.host]
        vectors = runtime.embed(embedding.name,
                                [instruction_text(p.messages) for p in prompts]).vectors
        default = config.routing.default_task
        alone = {p.id: combine(Classification(default, DEFAULT_RULE),
                               compare(index, np.asarray(v, np.float32),
                                       config.routing.classifier_margin, app.exemplars.tiers),
                               default, reachable=app.exemplars.reachable).task
                 for p, v in zip(prompts, vectors)}
        bare_ms = []
        for _ in range(args.runs):
            for prompt in needed or prompts:
                t = time.perf_counter()
                runtime.embed(embedding.name, [instruction_text(prompt.messages)])
                bare_ms.append((time.perf_counter() - t) * 1000)
        # Once a user has taught an exemplar, every prompt is embedded (near-duplicates of
        # what users taught overrule the rules). Taught last: it must not change the routes.
        app.exemplars.teach(app, [{"role": "user", "content": "xq benchmark exemplar"}], "chat")
        _, every_durations = time_decisions(app, prompts, args.runs)

    prices = tier_prices(config)
    by_id = {r.prompt.id: r for r in routed}
    total = len(routed)
    right = sum(r.task == r.prompt.task for r in routed)
    right_rules = sum(r.rules_task == r.prompt.task for r in routed)
    right_tier = sum(tier_of(r.task) == tier_of(r.prompt.task) for r in routed)
    right_tier_rules = sum(tier_of(r.rules_task) == tier_of(r.prompt.task) for r in routed)
    below_mid = [(r.prompt.id, r.task) for r in routed
                 if tier_of(r.prompt.task) == FRONTIER and tier_of(r.task) not in STRONG]

    print(f"{args.split} part: {total} prompts, {len({p.task for p in prompts})} tasks; "
          f"classifier {embedding.model_id}, {len(index.ids)} exemplars (built in "
          f"{build_s:.1f} s)")
    print()
    print("accuracy            tierd   rules alone   ratio")
    print(f"  task              {right / total:.3f}   {right_rules / total:.3f}         "
          f"{right / max(right_rules, 1):.3f}")
    print(f"  tier              {right_tier / total:.3f}   {right_tier_rules / total:.3f}"
          f"         {right_tier / max(right_tier_rules, 1):.3f}")
    print(f"  decided by: {dict(Counter(r.source for r in routed))}")
    print(f"  frontier-labelled prompts routed below mid: {len(below_mid)} {below_mid}")
    print()
    print("confusion by tier (rows labelled, columns routed by tierd)")
    print("  " + "".join(f"{t:>10}" for t in ("label",) + TIERS))
    for label in TIERS:
        counts = Counter(tier_of(r.task) for r in routed if tier_of(r.prompt.task) == label)
        print("  " + f"{label:>10}" + "".join(f"{counts.get(t, 0):>10}" for t in TIERS))
    if args.split != "test":
        misses = Counter((r.prompt.task, r.task) for r in routed if r.task != r.prompt.task)
        print(f"  misses (label, routed): {misses.most_common()}")
        for r in routed:
            if r.task != r.prompt.task:
                print(f"    {r.prompt.id}: {r.prompt.task} -> {r.task} ({r.source})")
    print()
    alone_right = sum(alone[r.prompt.id] == r.prompt.task for r in routed)
    alone_tier = sum(tier_of(alone[r.prompt.id]) == tier_of(r.prompt.task) for r in routed)
    local = [r for r in routed if tier_of(r.prompt.task) == "local"]
    paid = Counter(tier_of(alone[r.prompt.id]) for r in local
                   if tier_of(alone[r.prompt.id]) != "local")
    alone_below = sum(1 for r in routed if tier_of(r.prompt.task) == FRONTIER
                      and tier_of(alone[r.prompt.id]) not in STRONG)
    print("the exemplars alone (every prompt decided as one no rule knows)")
    print(f"  task {alone_right / total:.3f}, tier {alone_tier / total:.3f}; local-tier prompts "
          f"on a paid tier: {sum(paid.values())} of {len(local)} {dict(paid)}; "
          f"frontier-labelled below mid: {alone_below}")
    print()

    p50, p99 = percentile(durations, 0.5), percentile(durations, 0.99)
    print(f"classifier latency, ms ({args.runs} passes)   p50      p99")
    print(f"  tierd, all prompts             {p50:7.2f}  {p99:7.2f}")
    if needed_durations:
        print(f"  tierd, {len(needed):3} needing an embedding "
              f"{percentile(needed_durations, .5):7.2f}  {percentile(needed_durations, .99):7.2f}")
    print(f"  tierd, every prompt embedded   {percentile(every_durations, 0.5):7.2f}  "
          f"{percentile(every_durations, 0.99):7.2f}   (as with user exemplars)")
    print(f"  baseline: rules alone          {percentile(rules_ms, 0.5):7.2f}  "
          f"{percentile(rules_ms, 0.99):7.2f}")
    print(f"  baseline: bare embedding       {statistics.median(bare_ms):7.2f}  "
          f"{percentile(bare_ms, 0.99):7.2f}   (in-process, no queue or lease)")
    print(f"  ratio tierd p50 / target {P50_TARGET_MS:.0f} ms: {p50 / P50_TARGET_MS:.3f}")
    print()

    day = the_day(prompts)
    frontier_usd = sum(call_usd(prices, FRONTIER, i, o) for _, i, o in day)
    labelled_usd = sum(call_usd(prices, tier_of(p.task), i, o) for p, i, o in day)
    tierd_usd = sum(call_usd(prices, tier_of(by_id[p.id].task), i, o) for p, i, o in day)
    alone_usd = sum(call_usd(prices, tier_of(alone[p.id]), i, o) for p, i, o in day)
    print(f"the users' day ({len(day)} calls): "
          + ", ".join(f"{t} {m} ${a}/{b}" for t, (m, a, b) in prices.items()))
    print(f"  everything on the frontier ({prices[FRONTIER][0]}): ${frontier_usd:.2f}")
    print(f"  routed as labelled:  ${labelled_usd:.2f} "
          f"({100 * (1 - labelled_usd / frontier_usd):.1f} % less)")
    print(f"  routed by tierd:     ${tierd_usd:.2f} "
          f"({100 * (1 - tierd_usd / frontier_usd):.1f} % less)")
    print(f"  ratio tierd / labelled: {tierd_usd / labelled_usd:.3f}")
    print(f"  (the exemplars alone: ${alone_usd:.2f}, {alone_usd / labelled_usd:.3f}x labelled)")
    costly = Counter((p.id, p.task, by_id[p.id].task) for p, _, _ in day
                     if tier_of(by_id[p.id].task) != tier_of(p.task))
    if costly:
        print(f"  calls on another tier than labelled: {sum(costly.values())}"
              + (f" {dict(costly)}" if args.split != "test" else ""))

    missed = []
    if right / total < ACCURACY_TARGET:
        missed.append(f"task accuracy {right / total:.3f} < {ACCURACY_TARGET}")
    if below_mid:
        missed.append(f"{len(below_mid)} frontier-labelled prompts routed below mid")
    if tierd_usd > (1 + DAY_TOLERANCE) * labelled_usd:
        missed.append(f"the day routed by tierd costs {tierd_usd / labelled_usd:.3f}x the "
                      "labelled routing")
    if p50 > P50_TARGET_MS:
        missed.append(f"classifier p50 {p50:.2f} ms > {P50_TARGET_MS} ms")
    print()
    print("targets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
