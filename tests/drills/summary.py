"""``python -m tests.drills.summary``: the drill results of the last run, as a Markdown table.

Reads ``.warehouse/drills/drill-results.json`` (written by tests/drills/conftest.py) and
prints one row per drill group: points tried, outcomes, recovery time (median / max).
Used to fill the table in docs/reliability.md.
"""

from __future__ import annotations

import json
import statistics
import sys

from tests.drills.conftest import RESULTS_FILE


def main() -> int:
    if not RESULTS_FILE.exists():
        print(f"no results yet: run `make drill` first ({RESULTS_FILE})", file=sys.stderr)
        return 1
    results = json.loads(RESULTS_FILE.read_text())
    groups: dict[str, list[tuple[str, dict]]] = {}
    for nodeid, data in sorted(results.items()):
        name = nodeid.split("::", 1)[1]
        test, _, param = name.partition("[")
        groups.setdefault(test, []).append((param.rstrip("]"), data))
    print("| drill | points | outcome | recovery (median / max) |")
    print("| --- | --- | --- | --- |")
    for test, items in groups.items():
        points = ", ".join(p for p, _ in items if p) or "—"
        outcomes = [d.get("outcome", "?") for _, d in items]
        passed = outcomes.count("passed")
        recoveries = [d["recovery_s"] for _, d in items if "recovery_s" in d]
        timing = (
            f"{statistics.median(recoveries):.1f} s / {max(recoveries):.1f} s"
            if recoveries
            else "—"
        )
        print(f"| `{test}` | {points} | {passed}/{len(items)} passed | {timing} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
