"""The production shape end to end: an alert in the inbox, a real ``opswatch worker``
subprocess running the Dramatiq jobs from Redis (processing, the escalation tick,
delivery), and the call arriving at the fake Twilio over HTTP."""

from __future__ import annotations

import asyncio

from opswatch.alerts import inbox
from opswatch.alerts.normalize import parse_generic
from opswatch.models import AlertStatus, Channel, DeliveryStatus, EscalationEvent
from opswatch.runtime import Runtime
from opswatch.tenants.telephony import TelephonyConfig, configure_telephony
from tests.escalation.support import ACTOR, two_tier_policy
from tests.factories import TenantKit
from tests.fakes.twilio import FakeTwilio
from tests.workers import production_worker


async def test_a_real_worker_pages_through_twilio(
    acme: TenantKit, app_runtime: Runtime, test_env: dict[str, str]
) -> None:
    async with FakeTwilio() as fake:
        sid, token = fake.add_account()
        await configure_telephony(
            tenant=acme.tenant,
            box=app_runtime.secret_box,
            config=TelephonyConfig(
                "twilio", "+15005550006", {"twilio_account_sid": sid, "twilio_auth_token": token}
            ),
            actor=ACTOR,
        )
        setup = await two_tier_policy(acme, channels=[Channel.PHONE])
        async with production_worker(test_env, app_runtime, {"OPSWATCH_TWILIO_API_URL": fake.url}):
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
