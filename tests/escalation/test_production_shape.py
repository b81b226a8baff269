"""The production shape end to end: an alert in the inbox, a real ``opswatch worker``
subprocess running the Dramatiq jobs from Redis (processing, the escalation tick,
delivery), and the call arriving at the fake Twilio over HTTP."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

from opswatch import runtime
from opswatch.alerts import inbox
from opswatch.alerts.normalize import parse_generic
from opswatch.config import load_settings
from opswatch.events.memory import MemoryEventBus
from opswatch.models import AlertStatus, Channel, DeliveryStatus, EscalationEvent
from opswatch.runtime import Runtime
from opswatch.tenants.telephony import TelephonyConfig, configure_telephony
from tasks.broker import DramatiqQueue, build_broker
from tests.conftest import require_redis
from tests.escalation.support import ACTOR, two_tier_policy
from tests.factories import TenantKit
from tests.fakes.twilio import FakeTwilio


async def test_a_real_worker_pages_through_twilio(
    acme: TenantKit, app_runtime: Runtime, test_env: dict[str, str]
) -> None:
    redis_url = require_redis()
    async with FakeTwilio() as fake:
        sid, token = fake.add_account()
        env = {
            **test_env,
            "OPSWATCH_REDIS_URL": redis_url,
            "OPSWATCH_REDIS_NAMESPACE": f"opswatch-test-{uuid.uuid4().hex[:8]}",
            "OPSWATCH_TWILIO_API_URL": fake.url,
        }
        settings = load_settings(env)
        await configure_telephony(
            tenant=acme.tenant,
            box=app_runtime.secret_box,
            config=TelephonyConfig(
                "twilio", "+15005550006", {"twilio_account_sid": sid, "twilio_auth_token": token}
            ),
            actor=ACTOR,
        )
        setup = await two_tier_policy(acme, channels=[Channel.PHONE])
        broker = build_broker(settings)
        production = Runtime(
            settings, app_runtime.secret_box, DramatiqQueue(broker), MemoryEventBus()
        )
        runtime.install(production)
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "opswatch"), "worker", "--threads", "4"],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            payload = {
                "title": "PodCrashLoopBackOff",
                "fingerprint": "prod-shape",
                "labels": {"cluster": "production-de-01", "namespace": "customer-api"},
            }
            await inbox.accept(
                tenant=acme.tenant, api_key=None, events=parse_generic(payload, {}), raw=payload
            )
            for _ in range(400):
                if fake.calls:
                    break
                await asyncio.sleep(0.05)
            assert len(fake.calls) == 1
            assert fake.calls[0]["To"] == "+4915100000001"
            for _ in range(100):
                event = await EscalationEvent.get_or_none(user_id=setup.primary.id, tier=1)
                if event is not None and event.status is DeliveryStatus.QUEUED:
                    break
                await asyncio.sleep(0.05)
            assert event is not None
            assert event.status is DeliveryStatus.QUEUED
            assert (await event.alert).status is AlertStatus.FIRING
        finally:
            runtime.install(app_runtime)
            worker.terminate()
            output, _ = worker.communicate(timeout=30)
            broker.flush_all()
            broker.close()
        assert worker.returncode == 0, output
