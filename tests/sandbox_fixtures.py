"""Pytest fixtures for tests that run against the sandbox.

Registered by tests/conftest.py with `pytest_plugins = ["tests.sandbox_fixtures"]`.

- `sandbox_session` (session scope): one sandbox for the whole run, reference month 2026-10,
  a fixed now of 2026-11-02T12:00:00Z, with its Airflow connection variables set in
  os.environ for the session (and the previous values restored afterwards).
- `sandbox` (function scope): the same sandbox, reset to its pristine seeded state first.
- `running_sandbox(state_dir, month, now)`: a sandbox of its own for another reference month, its
  connections in os.environ while it runs (a test of a month other than 2026-10).

Each pytest-xdist worker gets its own sandbox (its own state dir and ports).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from sandbox.runner import SandboxHandle, start_sandbox

REFERENCE_MONTH = "2026-10"
FIXED_NOW = "2026-11-02T12:00:00Z"


@contextmanager
def running_sandbox(state_dir: os.PathLike, reference_month: str, now: str) -> Iterator[SandboxHandle]:
    """A sandbox seeded for `reference_month`, with its Airflow connection variables in os.environ
    while it runs (the previous values are restored afterwards)."""
    handle = start_sandbox(state_dir, reference_month=reference_month, now=now)
    try:
        with pytest.MonkeyPatch.context() as env:
            for key, value in handle.airflow_connections_env().items():
                env.setenv(key, value)
            yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def sandbox_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    with running_sandbox(tmp_path_factory.mktemp("sandbox"), REFERENCE_MONTH, FIXED_NOW) as handle:
        yield handle


@pytest.fixture
def sandbox(sandbox_session: SandboxHandle) -> SandboxHandle:
    sandbox_session.reset()
    return sandbox_session
