"""parse.<dag file>: import time (CPU seconds of a fresh process) of each DAG file relative to a one-task DAG importing only airflow.sdk.

The scheduler's DAG processor re-imports every file constantly; a DAG file that pulls pandas or
boto3 at module level costs every parse. Goal: every ratio <= 1.3.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import median_cpu_seconds_of_fresh_processes, record
from devtools.localenv import ROOT, airflow_environment

RUNS = 5
GOAL = 1.3
BASELINE = '''
import datetime as dt
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator
with DAG("baseline", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    EmptyOperator(task_id="only")
'''


def _import_code(path: Path) -> str:
    return f"import runpy; runpy.run_path({str(path)!r})"


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as home:
        env = airflow_environment(Path(home))
        baseline = Path(home) / "baseline_dag.py"
        baseline.write_text(BASELINE)
        records = []
        for path in sorted((ROOT / "dags").glob("*.py")):
            # Interleave baseline and file so machine load affects both alike.
            base = median_cpu_seconds_of_fresh_processes(_import_code(baseline), RUNS, env)
            took = median_cpu_seconds_of_fresh_processes(_import_code(path), RUNS, env)
            ratio = round(took / base, 3)
            records.append(record(f"parse.{path.stem}", ratio, "x baseline", f"<= {GOAL}", ratio <= GOAL))
        records.append(record("parse.baseline_cpu_seconds", round(base, 3), "s"))
        return records
