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
HEAVY = ("pandas", "numpy", "boto3", "botocore", "matplotlib", "pyarrow", "fpdf", "weasyprint", "moto")


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


# ----------------------------------------------------------------------------- the Report link
# Every task that publishes a report links to it in the UI (estate_ops/links.py): reports are
# published only through ReportPublisher.publish_report, and every class that does so has the link.

PLUGINS = ROOT / "plugins"


def _calls(path: Path) -> list[tuple[str | None, str]]:
    """(class name or None, called name) of every call of `publish_report` in a file."""
    import ast

    found = []

    def visit(node: ast.AST, cls: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, child.name)
                continue
            if isinstance(child, ast.Call):
                func = child.func
                if isinstance(func, ast.Name) and func.id == "publish_report":
                    found.append((cls, "publish_report"))
                elif (isinstance(func, ast.Attribute) and func.attr == "publish_report"
                      and isinstance(func.value, ast.Name) and func.value.id == "self"):
                    found.append((cls, "self.publish_report"))
            visit(child, cls)

    visit(ast.parse(path.read_text(encoding="utf-8")), None)
    return found


def _report_publishing_classes() -> list[type]:
    import importlib

    classes = []
    for path in sorted((PLUGINS / "estate_ops" / "operators").glob("*.py")):
        module = importlib.import_module(f"estate_ops.operators.{path.stem}" if path.stem != "__init__"
                                         else "estate_ops.operators")
        names = sorted({cls for cls, call in _calls(path) if call == "self.publish_report" and cls})
        classes += [getattr(module, name) for name in names]
    return classes


def test_reports_are_published_only_through_the_operator_mixin():
    allowed = {PLUGINS / "estate_ops" / "links.py"}
    files = sorted(set((PLUGINS / "estate_ops").rglob("*.py")) | set((ROOT / "dags").glob("*.py")))
    direct = [f"{path.relative_to(ROOT)} ({cls or 'module level'})" for path in files if path not in allowed
              for cls, call in _calls(path) if call == "publish_report"]
    assert direct == [], ("call self.publish_report(context, ...) of estate_ops.links.ReportPublisher, "
                          f"so the task gets its Report link: {direct}")


def test_every_operator_that_publishes_a_report_has_the_report_link():
    from estate_ops.links import ReportLink, ReportPublisher

    classes = _report_publishing_classes()
    assert len(classes) >= 6, classes  # backups (2), availability, incidents, preflight, retention
    for cls in classes:
        assert issubclass(cls, ReportPublisher), cls
        assert [link.name for link in cls.operator_extra_links if isinstance(link, ReportLink)] == ["Report"], cls


def test_the_ui_shows_a_report_link_on_every_report_task(dagbag, monkeypatch):
    from airflow.serialization.serialized_objects import DagSerialization

    # The API server loads operator links (SerializedDagModel(load_op_links=True)); the scheduler
    # side of an earlier dag.test() in this process may have left the class-wide switch off.
    monkeypatch.setattr(DagSerialization, "_load_operator_extra_links", True)
    publishing = tuple(_report_publishing_classes())
    seen = 0
    for dag in _dags(dagbag):
        served = DagSerialization.from_dict(DagSerialization.to_dict(dag))  # what the API server has
        for task in dag.tasks:
            has_link = "Report" in served.get_task(task.task_id).extra_links
            assert has_link == isinstance(task, publishing), f"{dag.dag_id}.{task.task_id}"
            seen += has_link
    assert seen >= 6


def test_the_plugin_registers_the_report_link():
    from airflow import plugins_manager
    from estate_ops.links import ReportLink

    assert not {k: v for k, v in plugins_manager.get_import_errors().items() if "estate_ops" in k}
    assert any(isinstance(link, ReportLink) for link in plugins_manager.get_operator_extra_links())
