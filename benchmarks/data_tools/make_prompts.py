"""Write src/tierd/routing/data/prompts.jsonl: the labelled routing prompts and their split.

Run from the repository root: `python benchmarks/data_tools/make_prompts.py`. The output is
deterministic. The split is stratified by task and decided by a hash of each prompt's id:
within a task, prompts are ordered by sha256(id) and the first TUNE_SHARE of them are `tune`.
Once written, a prompt never changes split — the script refuses to write a file that would
move one, because the test part must stay unseen by every tuning decision.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from prompts_cheap import BOILERPLATE, BULK_EDIT, REPO_SCAN, TEST_GEN
from prompts_code import CODE, CODE_REVIEW
from prompts_frontier import ARCHITECTURE, FINAL_REVIEW, WRITING
from prompts_local import CLASSIFY, EXTRACT, FORMAT, SCAN, SUMMARIZE
from prompts_mid import CHAT, ORCHESTRATE

TUNE_SHARE = 0.55

OUTPUT = Path(__file__).resolve().parents[2] / "src/tierd/routing/data/prompts.jsonl"

BY_TASK: dict[str, list[list[dict]]] = {
    "classify": CLASSIFY, "extract": EXTRACT, "format": FORMAT, "summarize": SUMMARIZE,
    "scan": SCAN, "repo_scan": REPO_SCAN, "bulk_edit": BULK_EDIT, "boilerplate": BOILERPLATE,
    "test_gen": TEST_GEN, "chat": CHAT, "orchestrate": ORCHESTRATE, "code": CODE,
    "code_review": CODE_REVIEW, "writing": WRITING, "architecture": ARCHITECTURE,
    "final_review": FINAL_REVIEW,
}


def _rank(prompt_id: str) -> str:
    return hashlib.sha256(prompt_id.encode()).hexdigest()


def labelled_rows() -> list[dict]:
    rows = []
    for task, prompts in BY_TASK.items():
        ids = [f"{task}-{number:03d}" for number in range(1, len(prompts) + 1)]
        tune_count = round(TUNE_SHARE * len(ids))
        tune = set(sorted(ids, key=_rank)[:tune_count])
        for prompt_id, messages in zip(ids, prompts):
            split = "tune" if prompt_id in tune else "test"
            rows.append({"id": prompt_id, "task": task, "split": split, "messages": messages})
    return rows


def _check(rows: list[dict]) -> None:
    seen: dict[str, str] = {}
    for row in rows:
        text = json.dumps(row["messages"], sort_keys=True)
        if text in seen:
            sys.exit(f"{row['id']} repeats {seen[text]}")
        seen[text] = row["id"]
    if OUTPUT.is_file():
        recorded = {r["id"]: r["split"] for r in map(json.loads, OUTPUT.read_text().splitlines())}
        moved = [r["id"] for r in rows if recorded.get(r["id"], r["split"]) != r["split"]]
        if moved:
            sys.exit(f"refusing to move prompts between splits: {moved}")


def main() -> None:
    rows = labelled_rows()
    _check(rows)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    with OUTPUT.open("w") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    counts = {task: len(prompts) for task, prompts in BY_TASK.items()}
    print(f"wrote {len(rows)} prompts to {OUTPUT}: {counts}")


if __name__ == "__main__":
    main()
