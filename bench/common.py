"""Helpers shared by the benchmarks: records, peak memory, a child process for clean measurements."""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
from typing import Any


def record(name: str, value: Any, unit: str, goal: str | None = None, meets_goal: bool | None = None) -> dict:
    return {"name": name, "value": value, "unit": unit, "goal": goal, "meets_goal": meets_goal}


def median_cpu_seconds_of_fresh_processes(code: str, runs: int, env: dict[str, str] | None = None) -> float:
    """Median CPU time (user + system) of `runs` fresh Python processes running `code`.

    CPU time rather than wall time: the figure then hardly moves when other work shares the
    machine, which wall time of a 2-second import does by tens of percent.
    """
    times = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return statistics.median(times)
