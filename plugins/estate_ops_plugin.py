"""The estate-ops Airflow plugin: the operator extra links of estate_ops (estate_ops/links.py).

Loaded by Airflow's plugins manager from the plugins folder (the estate_ops package itself is
skipped there, see .airflowignore: it is imported as a package). The links are attached by the
operator classes themselves (`ReportPublisher.operator_extra_links`); registering them here lists
them with the plugin (`airflow plugins`, the UI's Plugins page).
"""

from __future__ import annotations

from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin
from estate_ops.links import ReportLink


class EstateOpsPlugin(AirflowPlugin):
    name = "estate_ops"
    operator_extra_links: ClassVar[list] = [ReportLink()]
