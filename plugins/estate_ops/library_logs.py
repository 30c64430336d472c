"""Third-party libraries log at WARNING in every estate-ops process, unless someone asks for more.

Task logs are read by people. fontTools (WeasyPrint and fpdf2 subsetting the report font) writes
some 80 INFO lines per PDF, WeasyPrint one per rendering step, matplotlib one when it builds its
font cache, botocore one per credential lookup: none of it tells a reader what the task did. `estate_ops/__init__.py` applies the levels on
import, so they hold in every process that runs project code: each task process (it parses a DAG
file that imports estate_ops), `make demo`, the benchmarks and the tests.

The level of the loggers in `LIBRARY_LOGGERS` (and their children):
- `ESTATE_OPS_LIBRARY_LOG_LEVEL` when set (a logging level name: DEBUG, INFO, WARNING, ERROR);
- else, when Airflow's own logging level is DEBUG (`AIRFLOW__LOGGING__LOGGING_LEVEL`, or
  `[logging] logging_level` once Airflow's configuration is loaded), whatever the root logger
  lets through, i.e. everything;
- else WARNING.

Airflow's `[logging] namespace_levels` cannot do this: it filters Airflow's structlog loggers,
while these libraries log through the standard library's loggers.

Standard library only: importing estate_ops (its pure `domain/` included) must stay cheap.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

ENV_VAR = "ESTATE_OPS_LIBRARY_LOG_LEVEL"
LIBRARY_LOGGERS = ("fontTools", "fpdf", "weasyprint", "matplotlib", "PIL", "botocore", "boto3", "s3transfer", "urllib3")
LEVEL_NAMES = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

log = logging.getLogger(__name__)


def library_log_level(environ: Mapping[str, str] | None = None) -> int:
    """The level for the library loggers (`logging.NOTSET`: inherit the root logger's)."""
    environ = os.environ if environ is None else environ
    asked = environ.get(ENV_VAR, "").strip().upper()
    if asked in LEVEL_NAMES:
        return logging.getLevelName(asked)
    if asked:
        log.warning("%s=%r is not a logging level (expected one of %s): libraries log at WARNING",
                    ENV_VAR, environ[ENV_VAR], ", ".join(LEVEL_NAMES))
        return logging.WARNING
    if _airflow_logging_level(environ) == "DEBUG":
        return logging.NOTSET
    return logging.WARNING


def apply_library_log_levels(environ: Mapping[str, str] | None = None) -> int:
    """Set every library logger to `library_log_level(environ)`; returns that level."""
    level = library_log_level(environ)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(level)
    return level


def _airflow_logging_level(environ: Mapping[str, str]) -> str:
    level = environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL")
    if level is None and "airflow.configuration" in sys.modules:  # never import Airflow from here
        level = sys.modules["airflow.configuration"].conf.get("logging", "logging_level", fallback="INFO")
    return (level or "INFO").strip().upper()
