"""Faults during an alert storm, on servers this module starts itself (never the shared
ones): kill -9 the worker, restart Redis, restart PostgreSQL. Whatever happens, every
event a sender heard 202 for is processed exactly once, and the senders never see a
500 (a 503 during an outage is expected, with Retry-After).

Runs with the PostgreSQL backend only (the production shape). It skips when
initdb/pg_ctl/redis-server are missing, except in CI, where it fails instead.
``bench/chaos.py`` runs the same scenarios for longer.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from tests.conftest import BACKEND
from tests.reliability.harness import LoadConfig, Stack, missing_tools, run_scenario, table

pytestmark = pytest.mark.postgres_only

# About 10 s of load per scenario (at a rate two shared cores sustain with room for
# the fault's backlog), the fault 3 s into it.
LOAD = LoadConfig(rate=60, duration_s=10, repeat_share=0.25, concurrency=24, give_up_s=40)
FAULT_AT_S = 3.0


def _require_tools() -> None:
    if BACKEND != "postgres":
        pytest.skip("the faults run against the production shape (PostgreSQL backend)")
    missing = missing_tools()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI lacks what the fault tests need: {', '.join(missing)}")
        pytest.skip(f"missing: {', '.join(missing)}")


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[Stack]:
    _require_tools()
    started = Stack(worker_threads=4, sweep_after_s=2, log=print)
    try:
        await started.start()
        yield started
    except BaseException:
        print(started.log_tails())
        raise
    finally:
        await started.close()


@pytest.mark.parametrize("scenario", ["kill-worker", "restart-redis", "restart-postgres"])
async def test_no_accepted_event_is_lost_or_doubled(stack: Stack, scenario: str) -> None:
    dead_before = stack.dead()
    assert not dead_before, f"{dead_before} before the fault\n{stack.log_tails()}"
    report = await run_scenario(stack, scenario, LOAD, fault_at_s=FAULT_AT_S, log=print)
    print(table([report]))
    context = f"{report.to_json()}\n{stack.log_tails()}"
    assert report.accepted > 0, context
    assert report.lost == 0, context
    assert report.doubled == 0, context
    assert report.status_500 == 0, context
    assert report.retry_after_missing == 0, context
    assert report.rejected == 0, context
    assert report.gave_up == 0, context
    assert report.processed == report.accepted, context
    assert not report.dead, context
