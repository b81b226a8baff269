"""One job, both queues: the in-process twin, and Dramatiq on real Redis with a real
``opswatch worker`` process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from tortoise import connections
from tortoise.transactions import in_transaction

from opswatch.config import load_settings
from opswatch.models import ApiKey
from opswatch.queue import enqueue, job
from opswatch.queue.inprocess import InProcessQueue
from opswatch.runtime import Runtime
from tasks.broker import DramatiqQueue, build_broker
from tests.conftest import require_redis
from tests.factories import TenantKit

attempts: list[int] = []


@job("tests.flaky", max_retries=3, min_backoff_ms=10, max_backoff_ms=20)
async def flaky(*, fail_times: int) -> None:
    attempts.append(len(attempts))
    if len(attempts) <= fail_times:
        raise RuntimeError("transient")


seen_connections: list[str] = []


@job("tests.note_connection", max_retries=0)
async def note_connection() -> None:
    seen_connections.append(type(connections.get("default")).__name__)


async def test_a_job_enqueued_inside_a_transaction_does_not_run_in_it(
    acme: TenantKit, app_runtime: Runtime
) -> None:
    """Tortoise keeps the open transaction in a ContextVar; a job must start clean, as
    it would on a worker, or it would run on a transaction already finished."""
    async with in_transaction():
        await enqueue("tests.note_connection")
        await enqueue("tests.note_connection", delay_ms=20)
    assert isinstance(app_runtime.queue, InProcessQueue)
    await app_runtime.queue.drain()
    assert len(seen_connections) == 2
    assert not any("Transaction" in name for name in seen_connections), seen_connections


async def test_in_process_queue_runs_the_job(acme: TenantKit, app_runtime: Runtime) -> None:
    key = await ApiKey.get(tenant=acme.tenant)
    await enqueue(
        "tenants.mark_credential_used",
        kind="api_key",
        credential_id=str(key.id),
        used_at=datetime(2026, 11, 27, 3, 0, tzinfo=UTC).isoformat(),
    )
    assert isinstance(app_runtime.queue, InProcessQueue)
    await app_runtime.queue.drain()
    await key.refresh_from_db()
    assert key.last_used_at == datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


async def test_in_process_queue_retries_with_backoff(app_runtime: Runtime) -> None:
    attempts.clear()
    await enqueue("tests.flaky", fail_times=2)
    assert isinstance(app_runtime.queue, InProcessQueue)
    await app_runtime.queue.drain()
    assert len(attempts) == 3
    assert app_runtime.queue.failures == []


async def test_running_the_job_twice_never_moves_last_used_backwards(acme: TenantKit) -> None:
    from opswatch.tenants.usage import mark_credential_used

    key = await ApiKey.get(tenant=acme.tenant)
    later = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)
    earlier = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    for at in (later, later, earlier):
        await mark_credential_used(
            kind="api_key", credential_id=str(key.id), used_at=at.isoformat()
        )
    await key.refresh_from_db()
    assert key.last_used_at == later


async def test_a_real_worker_runs_the_job_from_redis(
    acme: TenantKit, test_env: dict[str, str], tmp_path: Path
) -> None:
    """The job waits in Redis before the worker starts: the worker connects its
    database before it takes a job, so the first attempt succeeds (taken too early,
    it failed and waited out the retry backoff)."""
    redis_url = require_redis()
    namespace = f"opswatch-test-{uuid.uuid4().hex[:8]}"
    env = {**test_env, "OPSWATCH_REDIS_URL": redis_url, "OPSWATCH_REDIS_NAMESPACE": namespace}
    settings = load_settings(env)
    broker = build_broker(settings)
    queue = DramatiqQueue(broker)
    key = await ApiKey.get(tenant=acme.tenant)
    used_at = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
    await queue.enqueue(
        "tenants.mark_credential_used",
        {"kind": "api_key", "credential_id": str(key.id), "used_at": used_at.isoformat()},
    )
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "opswatch"), "worker", "--threads", "2"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(300):
            await key.refresh_from_db()
            if key.last_used_at is not None:
                break
            await asyncio.sleep(0.05)
        assert key.last_used_at == used_at
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
        broker.flush_all()
        broker.close()
        await queue.stop()  # its Redis connections (broker.close() leaves them open)
    assert worker.returncode == 0, output
    assert "Failed to process message" not in output, output


def test_a_worker_that_cannot_reach_its_database_exits_instead_of_failing_jobs(
    test_env: dict[str, str],
) -> None:
    env = {
        **test_env,
        "OPSWATCH_REDIS_URL": require_redis(),
        "OPSWATCH_REDIS_NAMESPACE": f"opswatch-test-{uuid.uuid4().hex[:8]}",
        # Nothing listens on port 9 (discard) of loopback here.
        "OPSWATCH_DATABASE_URL": "postgres://opswatch@127.0.0.1:9/opswatch",
    }
    finished = subprocess.run(
        [str(Path(sys.executable).parent / "opswatch"), "worker", "--threads", "1"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 1, finished.stderr
    assert "cannot reach postgres://127.0.0.1:9/opswatch" in finished.stderr
