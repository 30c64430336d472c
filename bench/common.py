"""Helpers shared by the benchmarks: records, peak memory, a child process for clean measurements."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


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


def child_result(code: str, *args: str, what: str) -> dict:
    """Run `code` in a fresh Python, with a temporary folder (its own AIRFLOW_HOME) as argv[1], `args`
    after it and plugins/ on the path, so nothing leaks into other benchmarks; its last
    `RESULT <json>` line. A child that fails raises, naming `what`, with the end of its stderr."""
    with tempfile.TemporaryDirectory() as home:
        done = subprocess.run([sys.executable, "-c", code, home, *args], check=False, cwd=ROOT,
                              capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": f"{ROOT}/plugins:{ROOT}"})
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{what} benchmark child failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(lines[-1][len("RESULT "):])
