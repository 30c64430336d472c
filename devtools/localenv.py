"""The project-local Airflow: one place that turns config/airflow.env into a runnable environment.

Used by `make demo`, `make ui`, `make test` (tests/conftest.py) and the benchmarks, so every way
of running estate-ops on one machine gets the same settings: SQLite metadata DB and
LocalExecutor under the given AIRFLOW_HOME, dags/ and plugins/ of this checkout, examples off,
and the project's pools created.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV_FILE = ROOT / "config" / "airflow.env"
POOLS_FILE = ROOT / "include" / "pools.json"
VENV_BIN = Path(sys.executable).parent


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise ValueError(f"{path}:{number}: expected NAME=value, got {line!r}")
        name, value = line.split("=", 1)
        values[name.strip()] = value.strip()
    return values


def airflow_environment(home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for Airflow commands and in-process runs with AIRFLOW_HOME=`home`."""
    env = dict(os.environ if base is None else base)
    env.update(read_env_file())
    pythonpath = [str(ROOT / "plugins"), str(ROOT)]
    if env.get("PYTHONPATH"):
        pythonpath.append(env["PYTHONPATH"])
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "PYTHONPATH": os.pathsep.join(pythonpath),
        "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    })
    return env


def airflow(args: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    """Run the `airflow` CLI of this venv; raises with its output when it fails."""
    result = subprocess.run([str(VENV_BIN / "airflow"), *args], env=env, text=True,
                            capture_output=True, check=False, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"airflow {' '.join(args)} failed ({result.returncode}):\n"
                           f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def prepare_home(home: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """Create AIRFLOW_HOME, migrate its metadata DB and import the pools (idempotent)."""
    home.mkdir(parents=True, exist_ok=True)
    env = env or airflow_environment(home)
    airflow(["db", "migrate"], env)
    if POOLS_FILE.exists():
        airflow(["pools", "import", str(POOLS_FILE)], env)
    return env
