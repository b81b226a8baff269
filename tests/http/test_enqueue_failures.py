"""While the queue is down: one WARNING line (no traceback) per job name every 10 s,
counting the failures it stands for; a scheduler tick that failed to go out is
tried again at the next step, and does not stop the other ticks of its round."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from opswatch.queue import job
from opswatch.queue.failures import EnqueueFailures
from opswatch.runtime import Runtime
from tasks import scheduler
from tasks.scheduler import Scheduler
from tests.factories import TenantKit


@job("tests.broken_tick")
async def broken_tick() -> None:
    return None


@job("tests.working_tick")
async def working_tick() -> None:
    return None


class QueueDown:
    """A queue whose enqueue fails for the jobs named, as Redis down makes it."""

    def __init__(self, inner: Any, failing: set[str]) -> None:
        self.inner = inner
        self.failing = failing

    async def enqueue(self, name: str, kwargs: dict[str, Any], *, delay_ms: int = 0) -> None:
        if name in self.failing:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        await self.inner.enqueue(name, kwargs, delay_ms=delay_ms)


def test_failures_are_one_line_per_job_and_period(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("opswatch.queue.failures.time.monotonic", lambda: clock[0])
    failures = EnqueueFailures(every_seconds=10)
    error = ConnectionError("refused")
    with caplog.at_level(logging.WARNING, logger="opswatch.queue.failures"):
        for _ in range(729):
            failures.note("alerts.process_events", error, "the sweeper will")
        failures.note("escalation.tick", error, "retrying")
        clock[0] += 10
        failures.note("alerts.process_events", error, "the sweeper will")
    lines = [r for r in caplog.records if r.name == "opswatch.queue.failures"]
    assert [r.levelno for r in lines] == [logging.WARNING] * 3
    assert all(r.exc_info is None for r in lines)
    assert "alerts.process_events" in lines[0].getMessage()
    assert "escalation.tick" in lines[1].getMessage()
    assert "728 more" in lines[2].getMessage()


async def test_a_failed_tick_is_retried_at_the_next_step_and_others_still_go(
    app_runtime: Runtime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("opswatch.queue.failures._failures", EnqueueFailures())
    down = QueueDown(app_runtime.queue, {"tests.broken_tick"})
    monkeypatch.setattr(app_runtime, "queue", down)
    scheduler.periodic("tests.broken_tick", every_seconds=3600)
    scheduler.periodic("tests.working_tick", every_seconds=3600)
    try:
        ticker = Scheduler(holder="only")
        with caplog.at_level(logging.WARNING):
            first = await ticker.tick_once()
        assert "tests.working_tick" in first
        assert "tests.broken_tick" not in first
        assert any("tests.broken_tick" in r.getMessage() for r in caplog.records)

        down.failing.clear()  # the queue is back
        second = await ticker.tick_once()
        assert "tests.broken_tick" in second  # due still, not an hour later
        assert "tests.working_tick" not in second
    finally:
        scheduler.TICKS[:] = [t for t in scheduler.TICKS if not t.job.startswith("tests.")]
        monkeypatch.undo()
        await app_runtime.queue.drain()  # type: ignore[attr-defined]


async def test_webhooks_while_the_queue_is_down_log_no_tracebacks(
    client: httpx.AsyncClient,
    app_runtime: Runtime,
    acme: TenantKit,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from opswatch.alerts.inbox import PROCESS_JOB

    monkeypatch.setattr("opswatch.queue.failures._failures", EnqueueFailures())
    monkeypatch.setattr(app_runtime, "queue", QueueDown(app_runtime.queue, {PROCESS_JOB}))
    with caplog.at_level(logging.WARNING):
        for index in range(5):
            response = await client.post(
                "/api/v1/webhooks/generic",
                json={"title": f"disk full {index}"},
                headers={"X-API-Key": acme.api_key},
            )
            assert response.status_code == 202, response.text
    about = [r for r in caplog.records if PROCESS_JOB in r.getMessage()]
    assert len(about) == 1
    assert about[0].exc_info is None
