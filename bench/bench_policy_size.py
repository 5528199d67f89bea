"""Policy load time by rule count (issue 11 item 13): prints one JSON summary line.

python bench/bench_policy_size.py [COUNT ...]      # default 2500 5000 20000
"""

from __future__ import annotations

import json
import sys
import time

import yaml

from gait.gate.policy import load_policy_text


def main(counts: list[int]) -> None:
    results = {}
    for count in counts:
        rules = [
            {
                "name": f"rule-{i}",
                "effect": "allow",
                "priority": i,
                "match": {"tool_names": [f"tool.{i}"], "risk_classes": ["low"]},
            }
            for i in range(count)
        ]
        text = yaml.safe_dump({"default_verdict": "block", "rules": rules})
        start = time.perf_counter()
        load_policy_text(text)
        results[str(count)] = round(time.perf_counter() - start, 3)
    print(json.dumps({"bench": "policy_load_seconds_by_rules", "results": results}))


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [2500, 5000, 20000])
