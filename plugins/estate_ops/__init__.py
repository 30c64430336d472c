"""estate-ops: the Maintenance & Support Plan as Airflow jobs (DESIGN.md, CONTRIBUTING.md).

Importing the package keeps third-party libraries' INFO chatter out of task logs
(`library_logs.py`; `ESTATE_OPS_LIBRARY_LOG_LEVEL=INFO` brings it back).
"""

from estate_ops.library_logs import apply_library_log_levels

apply_library_log_levels()
