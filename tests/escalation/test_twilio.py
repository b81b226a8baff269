"""From a webhook alert to a phone call and an SMS through a fake Twilio (the real SDK
pointed at a real HTTP server), answered by digit or reply, signatures enforced."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from twilio.request_validator import RequestValidator

from opswatch.audit.actor import Actor
from opswatch.escalation import breaker
from opswatch.escalation.delivery import deliver
from opswatch.models import (
    Alert,
    AlertStatus,
    AuditLog,
    Channel,
    DeliveryStatus,
    EscalationEvent,
    EscalationState,
    ProviderBreaker,
)
from opswatch.runtime import Runtime
from opswatch.tenants.telephony import TelephonyConfig, configure_telephony
from tests.escalation.support import Setup, fire, settle, two_tier_policy
from tests.factories import TenantKit, graphql
from tests.fakes.twilio import FakeTwilio

FROM = "+15005550006"


@dataclasses.dataclass
class Twilio:
    fake: FakeTwilio
    token: str


@pytest.fixture
async def twilio(app_runtime: Runtime, acme: TenantKit) -> AsyncIterator[Twilio]:
    async with FakeTwilio() as fake:
        sid, token = fake.add_account()
        app_runtime.settings = dataclasses.replace(app_runtime.settings, twilio_api_url=fake.url)
        await configure_telephony(
            tenant=acme.tenant,
            box=app_runtime.secret_box,
            config=TelephonyConfig(
                "twilio", FROM, {"twilio_account_sid": sid, "twilio_auth_token": token}
            ),
            actor=Actor.system("test"),
        )
        await acme.tenant.refresh_from_db()
        yield Twilio(fake, token)


async def signed_post(
    client: httpx.AsyncClient, token: str, url: str, form: dict[str, str]
) -> httpx.Response:
    """POST as Twilio does: form fields, signed over the public URL."""
    signature = RequestValidator(token).compute_signature(url, form)
    path = url.removeprefix("http://opswatch.test")
    return await client.post(path, data=form, headers={"X-Twilio-Signature": signature})


async def paged(setup: Setup, channel: Channel) -> EscalationEvent:
    return await EscalationEvent.get(user_id=setup.primary.id, channel=channel, tier=1)


async def test_an_alert_calls_and_texts_the_on_call_and_digit_one_acknowledges(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime, twilio: Twilio
) -> None:
    setup = await two_tier_policy(acme)
    alert = await fire(client, acme, app_runtime)

    [call] = twilio.fake.calls
    [sms] = twilio.fake.messages
    assert call["To"] == sms["To"] == "+4915100000001"
    assert call["From"] == sms["From"] == FROM
    assert "Critical alert for payment-gateway." in call["Twiml"]
    assert "Press 1 to acknowledge. Press 2 to escalate." in call["Twiml"]
    assert sms["Body"] == (
        "[OpsWatch] CRITICAL: PodCrashLoopBackOff in production-de-01/customer-api. "
        f"Reply ACK to acknowledge or ESC to escalate. Alert ID: {alert.short_id}"
    )
    phone = await paged(setup, Channel.PHONE)
    assert (phone.status, phone.provider, phone.provider_ref) == (
        DeliveryStatus.QUEUED,
        "twilio",
        call["sid"],
    )

    # Twilio reports progress, then the digit arrives at the <Gather> action.
    status_url = call["StatusCallback"]
    for step in ("ringing", "in-progress"):
        response = await signed_post(
            client, twilio.token, status_url, {"CallSid": call["sid"], "CallStatus": step}
        )
        assert response.status_code == 204
    gather_url = _gather_action(call["Twiml"])
    response = await signed_post(client, twilio.token, gather_url, {"Digits": "1"})
    assert response.status_code == 200
    redirect = _redirect(response.text)
    assert "/api/v1/twilio/acknowledge?" in redirect
    response = await signed_post(client, twilio.token, redirect, {"Digits": "1"})
    assert "acknowledged" in response.text.lower()

    await alert.refresh_from_db()
    assert alert.status is AlertStatus.ACKNOWLEDGED
    assert alert.acknowledged_by_id == setup.primary.id  # type: ignore[attr-defined]
    assert alert.escalation_state is EscalationState.STOPPED
    entry = await AuditLog.get(action="alert.acknowledged")
    assert (entry.actor_type.value, entry.source) == ("phone", "phone")
    body = await graphql(
        client,
        acme.admin_token,
        "query($id: ID!) { alert(id: $id) { status escalationEvents { channel status } } }",
        id=str(alert.id),
    )
    events = {e["channel"]: e["status"] for e in body["data"]["alert"]["escalationEvents"]}
    assert events == {"PHONE": "ANSWERED", "SMS": "QUEUED"}


async def test_digit_two_escalates_and_silence_hangs_up_after_one_more_try(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime, twilio: Twilio
) -> None:
    setup = await two_tier_policy(acme)
    alert = await fire(client, acme, app_runtime)
    gather_url = _gather_action(twilio.fake.calls[0]["Twiml"])

    silent = await signed_post(client, twilio.token, gather_url + "&timeout=1", {})
    assert "<Gather" in silent.text  # asked once more
    again = _gather_action(silent.text)
    assert "attempt=2" in again
    goodbye = await signed_post(client, twilio.token, again + "&timeout=1", {})
    assert "<Hangup" in goodbye.text
    assert (await paged(setup, Channel.PHONE)).status is DeliveryStatus.NO_ANSWER

    response = await signed_post(client, twilio.token, gather_url, {"Digits": "2"})
    escalate_url = _redirect(response.text)
    assert "/api/v1/twilio/escalate?" in escalate_url
    await signed_post(client, twilio.token, escalate_url, {"Digits": "2"})
    await settle(app_runtime)
    assert {c["To"] for c in twilio.fake.calls} == {"+4915100000001", "+4915100000002"}
    await alert.refresh_from_db()
    assert alert.escalation_tier == 2


@pytest.mark.parametrize(
    ("reply", "status"),
    [("ACK", AlertStatus.ACKNOWLEDGED), (" ack ", AlertStatus.ACKNOWLEDGED), ("esc", None)],
)
async def test_sms_replies_act_on_the_latest_page(
    client: httpx.AsyncClient,
    acme: TenantKit,
    app_runtime: Runtime,
    twilio: Twilio,
    reply: str,
    status: AlertStatus | None,
) -> None:
    await two_tier_policy(acme)
    alert = await fire(client, acme, app_runtime)
    response = await signed_post(
        client,
        twilio.token,
        "http://opswatch.test/api/v1/twilio/sms",
        {"From": "+4915100000001", "To": FROM, "Body": reply},
    )
    assert response.status_code == 200
    assert "<Message>[OpsWatch]" in response.text
    await settle(app_runtime)
    await alert.refresh_from_db()
    if status is not None:
        assert alert.status is status
        assert alert.short_id in response.text
    else:
        assert alert.escalation_tier == 2


async def test_sms_reply_with_an_alert_id_and_unknown_senders_and_codes(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime, twilio: Twilio
) -> None:
    await two_tier_policy(acme)
    first = await fire(client, acme, app_runtime, fingerprint="one")
    second = await fire(client, acme, app_runtime, fingerprint="two")
    sms_url = "http://opswatch.test/api/v1/twilio/sms"
    reply = await signed_post(
        client,
        twilio.token,
        sms_url,
        {"From": "+4915100000001", "To": FROM, "Body": f"ACK {first.short_id.upper()}"},
    )
    assert first.short_id in reply.text
    await first.refresh_from_db()
    await second.refresh_from_db()
    assert first.status is AlertStatus.ACKNOWLEDGED
    assert second.status is AlertStatus.FIRING

    stranger = await signed_post(
        client, twilio.token, sms_url, {"From": "+4400000000", "To": FROM, "Body": "ACK"}
    )
    assert "not registered" in stranger.text
    unknown = await signed_post(
        client,
        twilio.token,
        sms_url,
        {"From": "+4915100000001", "To": FROM, "Body": "ACK zzzzzz"},
    )
    assert "No alert zzzzzz" in unknown.text
    nonsense = await signed_post(
        client, twilio.token, sms_url, {"From": "+4915100000001", "To": FROM, "Body": "hello?"}
    )
    assert "Reply ACK" in nonsense.text
    await second.refresh_from_db()
    assert second.status is AlertStatus.FIRING


async def test_forged_or_missing_signatures_are_refused_and_change_nothing(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime, twilio: Twilio
) -> None:
    await two_tier_policy(acme)
    alert = await fire(client, acme, app_runtime)
    call = twilio.fake.calls[0]
    ack_url = _gather_action(call["Twiml"]).replace("/gather?", "/acknowledge?")
    forged = RequestValidator("not-the-token").compute_signature(ack_url, {"Digits": "1"})
    for headers in ({"X-Twilio-Signature": forged}, {}):
        response = await client.post(
            ack_url.removeprefix("http://opswatch.test"), data={"Digits": "1"}, headers=headers
        )
        assert response.status_code == 403
    # Signed for other parameters than those sent: refused too.
    signature = RequestValidator(twilio.token).compute_signature(
        "http://opswatch.test/api/v1/twilio/sms",
        {"From": "+4915100000001", "To": FROM, "Body": "ESC"},
    )
    response = await client.post(
        "/api/v1/twilio/sms",
        data={"From": "+4915100000001", "To": FROM, "Body": "ACK"},
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status_code == 403
    await alert.refresh_from_db()
    assert alert.status is AlertStatus.FIRING
    assert await AuditLog.filter(action="alert.acknowledged").count() == 0


async def test_a_retried_delivery_job_does_not_call_twice(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime, twilio: Twilio
) -> None:
    setup = await two_tier_policy(acme)
    await fire(client, acme, app_runtime)
    phone = await paged(setup, Channel.PHONE)
    assert await deliver(phone.id) is None  # the job ran again: nothing left to claim
    assert len(twilio.fake.calls) == 1


async def test_transient_provider_errors_are_retried_with_backoff(
    client: httpx.AsyncClient,
    acme: TenantKit,
    app_runtime: Runtime,
    twilio: Twilio,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each failure opens the tenant's Twilio breaker for longer; when it may be tried
    again, one job probes; the third try goes through, once, and closes it."""
    # Short openings; the first long enough to look at the page while it waits.
    monkeypatch.setattr(breaker, "BACKOFF_SECONDS", (0.5, 0.1))
    setup = await two_tier_policy(acme, channels=[Channel.PHONE])
    twilio.fake.fail_next(503, times=2)
    await fire(client, acme, app_runtime)
    phone = await paged(setup, Channel.PHONE)
    assert (phone.status, phone.attempts) == (DeliveryStatus.PENDING, 1)
    opened = await ProviderBreaker.get(tenant_id=acme.tenant.id, provider="twilio")
    assert opened.failures == 1
    assert "Twilio answered 503" in (opened.last_error or "")
    await settle_all(app_runtime)
    await phone.refresh_from_db()
    assert phone.status is DeliveryStatus.QUEUED
    assert phone.attempts == 3
    assert len(twilio.fake.calls) == 1
    closed = await ProviderBreaker.get(tenant_id=acme.tenant.id, provider="twilio")
    assert (closed.failures, closed.open_until) == (0, None)


async def test_a_refusal_is_recorded_with_the_providers_reason_and_not_retried(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime, twilio: Twilio
) -> None:
    setup = await two_tier_policy(acme, channels=[Channel.PHONE])
    twilio.fake.fail_next(400, code=21211, message="Invalid 'To' Phone Number")
    await fire(client, acme, app_runtime)
    await settle_all(app_runtime)
    phone = await paged(setup, Channel.PHONE)
    assert phone.status is DeliveryStatus.FAILED
    assert "21211" in (phone.reason or "")
    assert phone.attempts == 1
    assert twilio.fake.calls == []


async def test_an_unknown_outcome_is_never_sent_again(
    client: httpx.AsyncClient,
    acme: TenantKit,
    app_runtime: Runtime,
    twilio: Twilio,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twilio took the request but did not answer in time: the call may be ringing."""
    monkeypatch.setattr("opswatch.escalation.providers.twilio.SEND_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(breaker, "BACKOFF_SECONDS", (0.1,))  # the wake-up it leaves
    setup = await two_tier_policy(acme, channels=[Channel.PHONE])
    twilio.fake.delay_next(2.0)
    await fire(client, acme, app_runtime)
    await settle_all(app_runtime)
    phone = await paged(setup, Channel.PHONE)
    assert phone.status is DeliveryStatus.UNKNOWN
    assert "may have gone out" in (phone.reason or "")
    assert await deliver(phone.id) is None
    assert phone.attempts == 1


async def test_a_storm_for_one_person_is_one_call_with_a_summary(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime, twilio: Twilio
) -> None:
    setup = await two_tier_policy(acme, channels=[Channel.PHONE])
    await fire(client, acme, app_runtime, fingerprint="first")
    assert len(twilio.fake.calls) == 1
    for n in range(20):
        await fire(client, acme, app_runtime, fingerprint=f"storm-{n}")
    # Everything after the first call waits for the minute to pass...
    assert len(twilio.fake.calls) == 1
    waiting = await EscalationEvent.filter(user_id=setup.primary.id, status=DeliveryStatus.PENDING)
    assert len(waiting) == 20
    # ...then goes out as one call naming them all.
    later = datetime.now(UTC) + timedelta(seconds=61)
    assert await deliver(waiting[0].id, now=later) is DeliveryStatus.QUEUED
    assert len(twilio.fake.calls) == 2
    assert "You have 20 alerts." in twilio.fake.calls[1]["Twiml"]
    folded = await EscalationEvent.filter(status=DeliveryStatus.THROTTLED).count()
    assert folded == 19
    # Pressing 1 on that call acknowledges all twenty.
    response = await signed_post(
        client,
        twilio.token,
        _gather_action(twilio.fake.calls[1]["Twiml"]).replace("/gather?", "/acknowledge?"),
        {"Digits": "1"},
    )
    assert "20 alerts acknowledged" in response.text
    assert await Alert.filter(status=AlertStatus.ACKNOWLEDGED).count() == 20


async def settle_all(runtime: Runtime) -> None:
    """Also wait for retries scheduled with backoff."""
    from opswatch.queue.inprocess import InProcessQueue

    assert isinstance(runtime.queue, InProcessQueue)
    await runtime.queue.drain(timeout=60)


def _gather_action(twiml: str) -> str:
    start = twiml.index('action="') + len('action="')
    return twiml[start : twiml.index('"', start)].replace("&amp;", "&")


def _redirect(twiml: str) -> str:
    start = twiml.index("<Redirect")
    start = twiml.index(">", start) + 1
    return twiml[start : twiml.index("</Redirect>", start)].replace("&amp;", "&")


async def test_alerts_arriving_together_for_one_person_make_one_call(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime, twilio: Twilio
) -> None:
    """Two delivery jobs run at once for the same person: one call, naming both."""
    await two_tier_policy(acme, channels=[Channel.PHONE])
    labels = {"cluster": "production-de-01", "namespace": "customer-api"}
    response = await client.post(
        "/api/v1/webhooks/generic",
        json=[
            {"title": "PodCrashLoopBackOff", "fingerprint": f"pair-{n}", "labels": labels}
            for n in range(2)
        ],
        headers={"X-API-Key": acme.api_key},
    )
    assert response.status_code == 202
    await settle(app_runtime)
    assert len(twilio.fake.calls) == 1
    assert "You have 2 alerts." in twilio.fake.calls[0]["Twiml"]
    statuses = sorted(e.status.value for e in await EscalationEvent.filter(tier=1))
    assert statuses == ["queued", "throttled"]
