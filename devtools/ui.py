"""`make ui`: the seeded sandbox and `airflow standalone` together; Ctrl-C stops both.

Log in at http://localhost:8080 as admin / admin (a local, loopback-only development login kept in
.airflow/simple_auth_manager_passwords.json.generated).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys

from devtools.localenv import ROOT, VENV_BIN, airflow_environment, prepare_home

HOME = ROOT / ".airflow"
STATE_DIR = ROOT / ".sandbox" / "ui"
USER, PASSWORD = "admin", "admin"


def main() -> int:
    from sandbox.runner import start_sandbox

    env = prepare_home(HOME, airflow_environment(HOME))
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = f"{USER}:admin"
    env["AIRFLOW__API__HOST"] = "127.0.0.1"
    # Someone is at the UI: support_invoicing waits for them in Required Actions (estate.yaml turns
    # approval off for the unattended demo). ESTATE_OPS_INVOICE_APPROVAL=off in the shell wins.
    env.setdefault("ESTATE_OPS_INVOICE_APPROVAL", "required")
    passwords = HOME / "simple_auth_manager_passwords.json.generated"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    shutil.rmtree(STATE_DIR, ignore_errors=True)
    with start_sandbox(STATE_DIR) as sandbox:
        env.update(sandbox.airflow_connections_env())
        print(f"Sandbox up (reference month {sandbox.reference_month}). Starting airflow standalone ...")
        print(f"Open http://localhost:8080 and log in as {USER} / {PASSWORD}. Ctrl-C stops everything.", flush=True)
        standalone = subprocess.Popen([str(VENV_BIN / "airflow"), "standalone"], env=env, start_new_session=True)
        try:
            return standalone.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            if standalone.poll() is None:
                import os

                os.killpg(standalone.pid, signal.SIGTERM)
                try:
                    standalone.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(standalone.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "plugins"))
    sys.exit(main())
