"""Task logs are for people: rendering a report (PDF included) logs nothing from fontTools/WeasyPrint at
INFO, unless ESTATE_OPS_LIBRARY_LOG_LEVEL (or Airflow's logging level DEBUG) asks for it."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from estate_ops.library_logs import ENV_VAR, LIBRARY_LOGGERS, apply_library_log_levels
from estate_ops.reports.publish import publish_report

from devtools.localenv import ROOT
from tests.reports.test_render import REPORT, _chart

RENDERER_LOGGERS = ("fontTools", "fpdf", "weasyprint")


class MemoryStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> bool:
        self.objects[key] = data
        return True


@pytest.fixture
def library_levels():
    """Apply levels for a given environment; the process's own levels come back afterwards."""
    saved = {name: logging.getLogger(name).level for name in LIBRARY_LOGGERS}
    yield apply_library_log_levels
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def _renderer_info_records(caplog) -> list[logging.LogRecord]:
    store = MemoryStore()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        keys = publish_report(store, "sample/2026-10", REPORT, charts={"Daily": ("daily.png", _chart())})
    assert "sample/2026-10/report.pdf" in keys and store.objects["sample/2026-10/report.pdf"].startswith(b"%PDF-")
    return [r for r in caplog.records
            if r.name.split(".")[0] in RENDERER_LOGGERS and r.levelno == logging.INFO]


def test_rendering_a_pdf_report_logs_no_renderer_info(caplog, library_levels):
    library_levels({"AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"})
    assert _renderer_info_records(caplog) == []


@pytest.mark.parametrize("environ", [{ENV_VAR: "INFO", "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"},
                                     {ENV_VAR: "info"},
                                     {"AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG"}],
                         ids=["opt-in", "opt-in-lowercase", "airflow-debug"])
def test_renderer_info_comes_back_when_asked_for(caplog, library_levels, environ):
    library_levels(environ)
    records = _renderer_info_records(caplog)
    assert any(r.name.startswith("weasyprint") for r in records), [r.name for r in records]


def test_an_unknown_level_warns_and_keeps_libraries_quiet(caplog, library_levels):
    with caplog.at_level(logging.WARNING, logger="estate_ops.library_logs"):
        assert library_levels({ENV_VAR: "chatty"}) == logging.WARNING
    assert f"{ENV_VAR}='chatty' is not a logging level" in caplog.text
    assert _renderer_info_records(caplog) == []


def test_estate_ops_applies_the_levels_on_import_in_a_fresh_process():
    """What a task process does: import the project, then render; its log is what a person reads."""
    probe = ("import logging, sys\n"
             "logging.basicConfig(level=logging.INFO, stream=sys.stdout, format='%(name)s %(levelname)s')\n"
             "import estate_ops\n"
             "from estate_ops.reports.render import render_pdf\n"
             "from tests.reports.test_render import REPORT\n"
             "render_pdf(REPORT)\n")
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}

    def log_of(**extra: str) -> str:
        return subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={**env, **extra},
                              capture_output=True, text=True, check=True).stdout

    assert "weasyprint" not in log_of(AIRFLOW__LOGGING__LOGGING_LEVEL="INFO")
    assert "weasyprint.progress INFO" in log_of(AIRFLOW__LOGGING__LOGGING_LEVEL="INFO", **{ENV_VAR: "INFO"})
