"""Scenario registry: `base` first, then each area's scenario whose module exists.

A scenario is a module `sandbox/scenarios/<name>.py` with a `seed(ctx: SeedContext) -> None`
function. The registry runs them in AREAS order after `base`, on start and on every reset, with
`ctx.scenario` set to the running scenario's name (so `ctx.rng()` is per scenario). A missing
module is skipped; a failing one stops the sandbox with the scenario's name in the error.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import time

from sandbox.context import SeedContext

__all__ = ["AREAS", "SeedContext", "available_scenarios", "run_all"]

AREAS = ("availability", "incidents", "backups", "retention", "invoicing", "monitoring", "metrics")

log = logging.getLogger("sandbox.scenarios")


class ScenarioError(RuntimeError):
    """A scenario's seed() failed."""


def available_scenarios() -> list[str]:
    found = [name for name in AREAS
             if importlib.util.find_spec(f"{__name__}.{name}") is not None]
    return ["base", *found]


def run_all(ctx: SeedContext, only: list[str] | None = None) -> dict[str, float]:
    """Seed every available scenario (or those in `only`, base always first); returns the
    seconds each took."""
    timings: dict[str, float] = {}
    for name in available_scenarios():
        if only is not None and name != "base" and name not in only:
            continue
        module = importlib.import_module(f"{__name__}.{name}")
        ctx.scenario = name
        started = time.perf_counter()
        try:
            module.seed(ctx)
        except Exception as exc:
            raise ScenarioError(f"scenario {name!r} failed to seed: {exc!r}") from exc
        timings[name] = round(time.perf_counter() - started, 3)
        log.info("seeded %s in %.3fs", name, timings[name])
    ctx.scenario = "base"
    return timings
