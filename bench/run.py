"""`make bench`: run every benchmark module, print a table, write bench-results.json.

Each module `bench/<area>.py` has `run() -> list[dict]` of records
`{name, value, unit, goal, meets_goal}` (goal a string such as "<= 1.3", or null).
`python -m bench.run parse availability` runs only those areas.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AREAS = ["parse", "availability", "incidents", "backups", "pruning", "invoicing", "monitoring", "metrics", "reviews",
         "scale"]


def main(argv: list[str]) -> int:
    wanted = argv or AREAS
    records: list[dict] = []
    failed: list[str] = []
    for area in wanted:
        if not (ROOT / "bench" / f"{area}.py").exists():
            continue
        print(f"== {area}", flush=True)
        try:
            module = importlib.import_module(f"bench.{area}")
            area_records = module.run()
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others
            traceback.print_exc()
            failed.append(area)
            continue
        for record in area_records:
            print(f"   {record['name']:<48} {record['value']!s:>14} {record['unit']:<10} "
                  f"goal {record.get('goal') or '-':<10} {'ok' if record.get('meets_goal') in (True, None) else 'MISSED'}",
                  flush=True)
        records.extend(area_records)
    (ROOT / "bench-results.json").write_text(json.dumps(records, indent=2, default=str) + "\n")
    missed = [r["name"] for r in records if r.get("meets_goal") is False]
    print(f"\n{len(records)} figures written to bench-results.json; goals missed: {missed or 'none'}")
    if failed:
        print(f"benchmarks that failed to run: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
