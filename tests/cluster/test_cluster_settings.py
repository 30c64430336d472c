"""The native stack (devtools/cluster.py) and docker-compose.yaml read their Airflow settings from
one place, config/airflow.env, and decide the same things themselves (executor, database,
broker, paths, auth, keys): the native half of the check in tests/test_compose.py. No processes
are started here. Each checker returns a list of problems; mutated inputs prove it can fail."""

from __future__ import annotations

import copy
import re

import pytest

from devtools.cluster import AIRFLOW_COMPONENTS, Cluster, native_only_settings
from tests.test_compose import (
    ENV_FILE,
    canonical,
    check_single_source,
    load_compose,
    read_env_file,
)

PORTS = {"api": 18080, "redis": 16379, "scheduler_health": 18974, "trigger_logs": 18794, "postgres": 15432}


def native_cluster(tmp_path) -> Cluster:
    cluster = Cluster(tmp_path / "cluster", workers=2)
    cluster.ports = dict(PORTS)
    return cluster


def component_envs(cluster: Cluster) -> dict[str, dict[str, str]]:
    return {name: cluster.environment(name) for name in [*AIRFLOW_COMPONENTS, *cluster.worker_names(), "init"]}


def airflow_settings(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("AIRFLOW__")}


def check_native(envs: dict[str, dict[str, str]], own: dict[str, str], compose: dict,
                 env_entries: list[tuple[int, str, str]]) -> list[str]:
    problems = []
    shared = {key: value for _, key, value in env_entries}
    # 1. Every component runs with config/airflow.env exactly as written.
    for name, env in envs.items():
        for key, value in shared.items():
            if env.get(key) != value:
                problems.append(f"{name}: {key}={env.get(key)!r}, {ENV_FILE} says {value!r}")
    # 2. What the stack sets itself never repeats an option of the env file (under any alias).
    problems += check_single_source({"services": {"airflow-native": {"environment": own}}}, env_entries)
    # 3. It decides the same options as compose's x-airflow-common, plus only the declared
    #    loopback/process settings.
    compose_own = {canonical(k) for k in compose["x-airflow-common"]["environment"] if k.startswith("AIRFLOW__")}
    native_own = {canonical(k) for k in own if k.startswith("AIRFLOW__")}
    declared = {canonical(k) for k in native_only_settings()}
    for option in sorted(compose_own - native_own):
        problems.append(f"native: does not set {option}, which docker-compose.yaml decides")
    for option in sorted(native_own - compose_own - declared):
        problems.append(f"native: sets {option}, which neither docker-compose.yaml nor native_only_settings() has")
    # 4. The same topology: Celery on Redis, PostgreSQL behind both the metadata DB and the results.
    expected = {
        "AIRFLOW__CORE__EXECUTOR": r"CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": r"postgresql\+psycopg2://\w+:\w+@127\.0\.0\.1:\d+/\w+",
        "AIRFLOW__CELERY__BROKER_URL": r"redis://127\.0\.0\.1:\d+/\d+",
        "AIRFLOW__CELERY__RESULT_BACKEND": r"db\+postgresql(\+psycopg2)?://\w+:\w+@127\.0\.0\.1:\d+/\w+",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": r"http://127\.0\.0\.1:\d+/execution/",
    }
    for key, pattern in expected.items():
        if not re.fullmatch(pattern, own.get(key, "")):
            problems.append(f"native: {key}={own.get(key)!r} does not match {pattern}")
    # 5. Every component gets the same Airflow settings (a worker's log-server port aside).
    reference = airflow_settings(envs["scheduler"])
    for name, env in envs.items():
        mine = airflow_settings(env)
        mine.pop("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", None)
        diff = sorted(k for k in set(reference) | set(mine) if reference.get(k) != mine.get(k))
        if diff:
            problems.append(f"{name}: differs from the scheduler in {diff}")
    return problems


def test_native_stack_agrees_with_compose_and_the_env_file(tmp_path):
    cluster = native_cluster(tmp_path)
    assert check_native(component_envs(cluster), cluster.deployment_settings(), load_compose(),
                        read_env_file()) == []


def test_env_file_values_reach_every_component(tmp_path):
    envs = component_envs(native_cluster(tmp_path))
    for _, key, value in read_env_file():
        assert {env[key] for env in envs.values()} == {value}


def test_the_cluster_refuses_an_env_file_that_sets_what_it_decides(tmp_path, monkeypatch):
    from devtools import cluster as module

    cluster = native_cluster(tmp_path)
    monkeypatch.setattr(module, "read_env_file", lambda: {"AIRFLOW__CORE__EXECUTOR": "LocalExecutor"})
    with pytest.raises(module.ClusterError, match=r"config/airflow.env sets \['AIRFLOW__CORE__EXECUTOR'\]"):
        cluster.environment("scheduler")


def _mutate_env(envs, name, key, value):
    envs[name][key] = value


MUTATIONS = {
    "a component contradicts the env file": (
        lambda envs, own, compose, entries: _mutate_env(envs, "worker-2", "AIRFLOW__CORE__LOAD_EXAMPLES", "True"),
        "worker-2: AIRFLOW__CORE__LOAD_EXAMPLES='True', config/airflow.env says 'False'",
    ),
    "own setting under a deprecated alias of an env-file option": (
        lambda envs, own, compose, entries: own.__setitem__("AIRFLOW__WEBSERVER__EXPOSE_CONFIG", "True"),
        "AIRFLOW__WEBSERVER__EXPOSE_CONFIG=True contradicts config/airflow.env's AIRFLOW__API__EXPOSE_CONFIG",
    ),
    "compose decides something the native stack does not": (
        lambda envs, own, compose, entries: compose["x-airflow-common"]["environment"].__setitem__(
            "AIRFLOW__CORE__PARALLELISM", "64"),
        "native: does not set [core] parallelism",
    ),
    "native decides something undeclared": (
        lambda envs, own, compose, entries: own.__setitem__("AIRFLOW__CORE__PARALLELISM", "64"),
        "native: sets [core] parallelism, which neither",
    ),
    "local executor": (
        lambda envs, own, compose, entries: own.__setitem__("AIRFLOW__CORE__EXECUTOR", "LocalExecutor"),
        "native: AIRFLOW__CORE__EXECUTOR='LocalExecutor'",
    ),
    "one component with another database": (
        lambda envs, own, compose, entries: _mutate_env(envs, "triggerer", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
                                                        "sqlite:////tmp/x.db"),
        "triggerer: differs from the scheduler in ['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN']",
    ),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_checker_catches(tmp_path, name):
    cluster = native_cluster(tmp_path)
    envs, own = component_envs(cluster), cluster.deployment_settings()
    compose, entries = copy.deepcopy(load_compose()), read_env_file()
    mutate, expected = MUTATIONS[name]
    mutate(envs, own, compose, entries)
    problems = check_native(envs, own, compose, entries)
    assert any(expected in p for p in problems), problems
