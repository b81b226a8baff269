"""One job, both queues: the in-process twin, and Dramatiq on real Redis with a real
``opswatch worker`` process; the worker's bulkhead between ingest and paging."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from tortoise import connections
from tortoise.transactions import in_transaction

from opswatch.alerts import inbox
from opswatch.alerts.inbox import PROCESS_JOB
from opswatch.alerts.normalize import parse_generic
from opswatch.audit.actor import Actor
from opswatch.config import load_settings
from opswatch.escalation.delivery import DELIVER_JOB
from opswatch.models import Alert, ApiKey, Channel, DeliveryStatus, EscalationEvent
from opswatch.queue import enqueue, job
from opswatch.queue.inprocess import InProcessQueue
from opswatch.runtime import Runtime
from opswatch.tenants.telephony import TelephonyConfig, configure_telephony
from tasks.broker import DramatiqQueue, build_broker, build_workers
from tests.conftest import require_redis
from tests.escalation.support import two_tier_policy
from tests.factories import TenantKit
from tests.fakes.twilio import FakeTwilio
from tests.workers import production_worker

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


def test_ingest_has_a_worker_of_its_own_and_runs_before_paging(test_env: dict[str, str]) -> None:
    env = {**test_env, "OPSWATCH_REDIS_URL": require_redis()}
    broker = build_broker(load_settings(env))
    try:
        assert broker.get_actor(PROCESS_JOB).priority < broker.get_actor(DELIVER_JOB).priority
        every = build_workers(broker, threads=8, ingest_threads=2, queues=None, worker_timeout=100)
        assert [(w.consumer_whitelist, w.worker_threads) for w in every] == [
            ({"ingest"}, 2),
            (set(broker.get_declared_queues()) - {"ingest"}, 8),
        ]
        paging = build_workers(
            broker,
            threads=4,
            ingest_threads=2,
            queues=["escalation", "default"],
            worker_timeout=100,
        )
        assert [(w.consumer_whitelist, w.worker_threads) for w in paging] == [
            ({"escalation", "default"}, 4)
        ]
        ingest = build_workers(
            broker, threads=4, ingest_threads=3, queues=["ingest"], worker_timeout=100
        )
        assert [(w.consumer_whitelist, w.worker_threads) for w in ingest] == [({"ingest"}, 3)]
    finally:
        broker.close()
        broker.client.connection_pool.disconnect()


async def test_alerts_are_processed_while_a_slow_page_holds_every_other_thread(
    acme: TenantKit, globex: TenantKit, app_runtime: Runtime, test_env: dict[str, str]
) -> None:
    """A real worker with one thread for everything but ingest (``--threads 1``): a
    page waits for a provider that answers late, and another tenant's alert is
    processed meanwhile, on the ingest worker's own threads (with one pool of
    threads it waited for the page: seconds, up to the send timeout)."""
    async with FakeTwilio() as fake:
        sid, token = fake.add_account()
        await configure_telephony(
            tenant=acme.tenant,
            box=app_runtime.secret_box,
            config=TelephonyConfig(
                "twilio", "+15005550006", {"twilio_account_sid": sid, "twilio_auth_token": token}
            ),
            actor=Actor.system("test"),
        )
        setup = await two_tier_policy(acme, channels=[Channel.PHONE])
        fake.delay_next(SLOW_PROVIDER_SECONDS)
        extra = {"OPSWATCH_TWILIO_API_URL": fake.url}
        async with production_worker(test_env, app_runtime, extra, threads=1):
            await _accept(acme, "paged")
            await _until(lambda: _page_is_sending(setup.primary.id), seconds=20)
            started = time.monotonic()
            await _accept(globex, "meanwhile")
            await _until(lambda: _has_alert(globex, "meanwhile"), seconds=20)
            waited = time.monotonic() - started
            assert fake.calls == []  # the page is still waiting for Twilio
            await _until(lambda: _call_made(fake), seconds=20)
        assert waited < SLOW_PROVIDER_SECONDS / 3, waited


SLOW_PROVIDER_SECONDS = 6.0


async def _accept(kit: TenantKit, fingerprint: str) -> None:
    payload = {
        "title": "PodCrashLoopBackOff",
        "fingerprint": fingerprint,
        "labels": {"cluster": "production-de-01", "namespace": "customer-api"},
    }
    await inbox.accept(
        tenant=kit.tenant, api_key=None, events=parse_generic(payload, {}), raw=payload
    )


async def _until(condition: Callable[[], Awaitable[bool]], *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def _page_is_sending(user_id: uuid.UUID) -> bool:
    return await EscalationEvent.filter(user_id=user_id, status=DeliveryStatus.SENDING).exists()


async def _has_alert(kit: TenantKit, fingerprint: str) -> bool:
    return await Alert.filter(tenant=kit.tenant, fingerprint=fingerprint).exists()


async def _call_made(fake: FakeTwilio) -> bool:
    return bool(fake.calls)
