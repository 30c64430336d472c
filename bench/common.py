"""Helpers shared by the benchmarks: records, peak memory, a child process for clean measurements."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from typing import Any


def record(name: str, value: Any, unit: str, goal: str | None = None, meets_goal: bool | None = None) -> dict:
    return {"name": name, "value": value, "unit": unit, "goal": goal, "meets_goal": meets_goal}


def median_seconds_of_fresh_processes(code: str, runs: int, env: dict[str, str] | None = None) -> float:
    """Median wall time of `runs` fresh Python processes running `code` (imports not cached)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)
