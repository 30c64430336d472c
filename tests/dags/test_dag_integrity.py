"""Every DAG file: imports cleanly, is documented, tagged, owned, retried with backoff, alerts on
failure, and keeps heavy libraries out of module level (the scheduler parses it constantly)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.localenv import ROOT

DAG_FILES = sorted((ROOT / "dags").glob("*.py"))
HEAVY = ("pandas", "numpy", "boto3", "botocore", "matplotlib", "pyarrow", "fpdf", "moto")


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_there_are_dag_files():
    assert DAG_FILES, "dags/ has no DAG files"


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_each_file_defines_a_dag_named_after_it(dagbag, path):
    assert path.stem in dagbag.dags, f"{path.name} should define the DAG {path.stem!r}"


def _dags(dagbag):
    return [dagbag.dags[p.stem] for p in DAG_FILES if p.stem in dagbag.dags]


def test_every_dag_is_documented_tagged_and_owned(dagbag):
    for dag in _dags(dagbag):
        assert dag.doc_md and len(dag.doc_md.strip()) > 80, f"{dag.dag_id}: doc_md missing or too short"
        assert "estate-ops" in dag.tags and len(dag.tags) >= 2, f"{dag.dag_id}: tags {dag.tags}"
        for task in dag.tasks:
            assert task.owner == "estate-ops", f"{dag.dag_id}.{task.task_id}: owner {task.owner}"


def test_every_task_retries_with_backoff_and_alerts_on_failure(dagbag):
    for dag in _dags(dagbag):
        for task in dag.tasks:
            where = f"{dag.dag_id}.{task.task_id}"
            assert task.retries >= 2, f"{where}: retries {task.retries}"
            assert task.retry_exponential_backoff and float(task.retry_exponential_backoff) >= 2.0, where
            callbacks = task.on_failure_callback
            assert callbacks, f"{where}: no on_failure_callback"


def _heavy_modules_imported_by(path: Path) -> list[str]:
    probe = (
        "import sys, json, runpy\n"
        "import airflow.sdk\n"
        "before = set(sys.modules)\n"
        f"runpy.run_path({str(path)!r})\n"
        f"print(json.dumps(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in {HEAVY!r})))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_no_heavy_import_at_module_level(path):
    heavy = _heavy_modules_imported_by(path)
    assert heavy == [], f"{path.name} imports {heavy} at module level"


def test_the_heavy_import_probe_sees_a_heavy_import(tmp_path):
    bad = tmp_path / "bad_dag.py"
    bad.write_text("import pandas\n")
    assert "pandas" in _heavy_modules_imported_by(bad)
