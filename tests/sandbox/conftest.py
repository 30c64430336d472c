"""A base-only sandbox for the sandbox's own tests: exact expectations about the stand-ins'
behaviour must not depend on the history the area scenarios add. (The full sandbox, with every
scenario, is `sandbox`/`sandbox_session` from tests/sandbox_fixtures.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.runner import SandboxHandle, start_sandbox
from tests.sandbox_fixtures import FIXED_NOW, REFERENCE_MONTH


@pytest.fixture(scope="session")
def base_sandbox_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    handle = start_sandbox(tmp_path_factory.mktemp("sandbox-base"), reference_month=REFERENCE_MONTH,
                           now=FIXED_NOW, extra_args=["--scenarios", ""])
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def sbx(base_sandbox_session: SandboxHandle) -> SandboxHandle:
    """The base-only sandbox, reset."""
    base_sandbox_session.reset()
    return base_sandbox_session
