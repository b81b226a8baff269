"""The same page through a fake Vonage (HTTPS, the real synchronous SDK): the call's NCCO,
the SMS, a digit acknowledging by a signed webhook, forged signatures refused."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest

from opswatch.audit.actor import Actor
from opswatch.models import AlertStatus, Channel, DeliveryStatus, EscalationEvent
from opswatch.runtime import Runtime
from opswatch.tenants.telephony import TelephonyConfig, configure_telephony
from tests.escalation.support import fire, two_tier_policy
from tests.factories import TenantKit
from tests.fakes.vonage import FakeVonage

FROM = "+4930000000"
SIGNATURE_SECRET = "vonage-signature-secret-for-tests"


@dataclasses.dataclass
class Vonage:
    fake: FakeVonage


@pytest.fixture
async def vonage(
    app_runtime: Runtime, acme: TenantKit, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Vonage]:
    async with FakeVonage() as fake:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.ca_path)
        application_id, private_key, _ = fake.add_application()
        api_key, api_secret = fake.add_account()
        app_runtime.settings = dataclasses.replace(app_runtime.settings, vonage_api_url=fake.url)
        await configure_telephony(
            tenant=acme.tenant,
            box=app_runtime.secret_box,
            config=TelephonyConfig(
                "vonage",
                FROM,
                {
                    "vonage_application_id": application_id,
                    "vonage_private_key": private_key,
                    "vonage_api_key": api_key,
                    "vonage_api_secret": api_secret,
                    "vonage_signature_secret": SIGNATURE_SECRET,
                },
            ),
            actor=Actor.system("test"),
        )
        await acme.tenant.refresh_from_db()
        yield Vonage(fake)


def signed(body: dict[str, Any], secret: str = SIGNATURE_SECRET) -> tuple[bytes, dict[str, str]]:
    """A voice webhook as Vonage signs it: HS256 JWT with the body's SHA-256."""
    raw = httpx.Request("POST", "http://x", json=body).content
    token = jwt.encode(
        {"iat": int(time.time()), "payload_hash": hashlib.sha256(raw).hexdigest()},
        secret,
        algorithm="HS256",
    )
    return raw, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def signed_params(params: dict[str, str]) -> dict[str, str]:
    """An SMS webhook's parameters with Vonage's ``sig`` (SHA-256 HMAC)."""
    values = {**params, "timestamp": str(int(time.time()))}
    hasher = hmac.new(SIGNATURE_SECRET.encode(), digestmod=hashlib.sha256)
    for key in sorted(values):
        hasher.update(f"&{key}={values[key].replace('&', '_').replace('=', '_')}".encode())
    return {**values, "sig": hasher.hexdigest()}


async def test_a_page_calls_and_texts_through_vonage_and_a_signed_digit_acknowledges(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime, vonage: Vonage
) -> None:
    setup = await two_tier_policy(acme)
    alert = await fire(client, acme, app_runtime)
    [call] = vonage.fake.calls
    [sms] = vonage.fake.messages
    assert call["to"] == [{"type": "phone", "number": "4915100000001"}]
    talk, digit = call["ncco"]
    assert talk["text"].startswith("Critical alert for payment-gateway.")
    assert digit["action"] == "input"
    assert sms["to"] == "4915100000001"
    assert sms["text"].startswith("[OpsWatch] CRITICAL: PodCrashLoopBackOff")
    phone = await EscalationEvent.get(user_id=setup.primary.id, channel=Channel.PHONE)
    assert (phone.provider, phone.provider_ref) == ("vonage", call["uuid"])

    gather = digit["eventUrl"][0].removeprefix("http://opswatch.test")
    forged_body, forged_headers = signed(
        {"dtmf": {"digits": "1"}}, secret="a-guessed-secret-of-thirty-two-bytes"
    )
    refused = await client.post(gather, content=forged_body, headers=forged_headers)
    assert refused.status_code == 403
    unsigned = await client.post(gather, json={"dtmf": {"digits": "1"}})
    assert unsigned.status_code == 403
    await alert.refresh_from_db()
    assert alert.status is AlertStatus.FIRING

    body, headers = signed({"dtmf": {"digits": "1", "timed_out": False}})
    answer = await client.post(gather, content=body, headers=headers)
    assert answer.status_code == 200
    assert "acknowledged" in answer.json()[0]["text"].lower()
    await alert.refresh_from_db()
    assert alert.status is AlertStatus.ACKNOWLEDGED

    events_url = call["event_url"][0].removeprefix("http://opswatch.test")
    body, headers = signed({"status": "completed", "uuid": call["uuid"]})
    assert (await client.post(events_url, content=body, headers=headers)).status_code == 204
    await phone.refresh_from_db()
    assert phone.status is DeliveryStatus.ANSWERED


async def test_an_sms_reply_through_vonage_acknowledges_and_is_answered(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime, vonage: Vonage
) -> None:
    await two_tier_policy(acme)
    alert = await fire(client, acme, app_runtime)
    params = {"msisdn": "4915100000001", "to": FROM.lstrip("+"), "text": "ack"}
    forged = {**signed_params(params), "text": "esc"}
    assert (await client.post("/api/v1/vonage/sms", data=forged)).status_code == 403
    response = await client.post("/api/v1/vonage/sms", data=signed_params(params))
    assert response.status_code == 204
    await alert.refresh_from_db()
    assert alert.status is AlertStatus.ACKNOWLEDGED
    reply = vonage.fake.messages[-1]
    assert reply["to"] == "4915100000001"
    assert reply["text"] == f"[OpsWatch] Acknowledged: {alert.short_id}."
