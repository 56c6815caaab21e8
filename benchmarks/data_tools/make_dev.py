"""Write benchmarks/data/routing_dev.jsonl: the development set (prompts_dev.py).

Run from the repository root: `python benchmarks/data_tools/make_dev.py`. Deterministic. Every
row has split "dev": tuning decisions (rules, the margin) are made on these prompts, never on
the shipped test part, and they are never exemplars.
"""

from __future__ import annotations

import json
from pathlib import Path

from prompts_dev import DEV

OUTPUT = Path(__file__).resolve().parents[1] / "data" / "routing_dev.jsonl"


def main() -> None:
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    with OUTPUT.open("w") as out:
        for task, prompts in DEV.items():
            for number, messages in enumerate(prompts, start=1):
                row = {"id": f"dev-{task}-{number:02d}", "task": task, "split": "dev",
                       "messages": messages}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {sum(map(len, DEV.values()))} prompts to {OUTPUT}")


if __name__ == "__main__":
    main()
