"""A page that fails, or may not have arrived, is one WARNING line that names the tenant,
the alert, the person, the channel and the reason, in its text and as fields."""

from __future__ import annotations

import logging

import httpx
import pytest

from opswatch.escalation import breaker
from opswatch.models import Channel, DeliveryStatus, EscalationEvent
from opswatch.runtime import Runtime
from tests.escalation.support import fire, two_tier_policy
from tests.escalation.test_twilio import (  # noqa: F401 (twilio: a fixture)
    Twilio,
    settle_all,
    signed_post,
    twilio,
)
from tests.factories import TenantKit

FIELDS = ("tenant", "alert", "person", "channel", "reason")


def _page_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and r.getMessage().startswith("page ")
    ]


async def test_a_page_twilio_refuses_is_one_warning_naming_who_what_and_why(
    client: httpx.AsyncClient,
    acme: TenantKit,
    app_runtime: Runtime,
    twilio: Twilio,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    setup = await two_tier_policy(acme, channels=[Channel.SMS])
    twilio.fake.fail_next(400, code=21211, message="Invalid 'To' Phone Number")
    with caplog.at_level(logging.INFO):
        alert = await fire(client, acme, app_runtime)
        await settle_all(app_runtime)
    (line,) = _page_warnings(caplog)
    fields = {name: getattr(line, name) for name in FIELDS}
    assert fields["tenant"] == acme.tenant.slug
    assert fields["alert"] == alert.short_id
    assert fields["person"] == f"{setup.primary.id} (Pat)"
    assert fields["channel"] == "SMS"
    assert "21211" in fields["reason"]
    text = line.getMessage()
    assert text.startswith("page failed")
    for name, value in fields.items():
        assert f"{name}={value}" in text


async def test_a_page_whose_outcome_is_unknown_is_one_warning_too(
    client: httpx.AsyncClient,
    acme: TenantKit,
    app_runtime: Runtime,
    twilio: Twilio,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("opswatch.escalation.providers.twilio.SEND_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(breaker, "BACKOFF_SECONDS", (0.1,))
    await two_tier_policy(acme, channels=[Channel.PHONE])
    twilio.fake.delay_next(2.0)
    with caplog.at_level(logging.INFO):
        alert = await fire(client, acme, app_runtime)
        await settle_all(app_runtime)
    (line,) = _page_warnings(caplog)
    assert line.getMessage().startswith("page unknown")
    assert (line.alert, line.channel) == (alert.short_id, "PHONE")  # type: ignore[attr-defined]
    assert "may have gone out" in line.reason  # type: ignore[attr-defined]


async def test_nobody_on_call_is_a_failed_page_logged_once(
    client: httpx.AsyncClient,
    acme: TenantKit,
    app_runtime: Runtime,
    twilio: Twilio,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    await two_tier_policy(acme, channels=[Channel.SMS], members=False)
    with caplog.at_level(logging.INFO):
        alert = await fire(client, acme, app_runtime)
        await settle_all(app_runtime)
    (line,) = _page_warnings(caplog)
    assert line.alert == alert.short_id  # type: ignore[attr-defined]
    assert line.person.startswith("roster:")  # type: ignore[attr-defined]
    assert "nobody is on call for Primary" in line.reason  # type: ignore[attr-defined]


async def test_a_call_twilio_later_reports_failed_is_one_warning_however_often_it_says_so(
    client: httpx.AsyncClient,
    acme: TenantKit,
    app_runtime: Runtime,
    twilio: Twilio,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    setup = await two_tier_policy(acme, channels=[Channel.PHONE])
    alert = await fire(client, acme, app_runtime)
    [call] = twilio.fake.calls
    report = {"CallSid": call["sid"], "CallStatus": "failed", "ErrorCode": "32009"}
    with caplog.at_level(logging.INFO):
        # Twilio retries a callback it did not see answered: the second is a repeat.
        for _ in range(2):
            response = await signed_post(client, twilio.token, call["StatusCallback"], report)
            assert response.status_code == 204
    (line,) = _page_warnings(caplog)
    assert line.getMessage().startswith("page failed (reported by the provider)")
    assert line.alert == alert.short_id  # type: ignore[attr-defined]
    assert line.person == f"{setup.primary.id} (Pat)"  # type: ignore[attr-defined]
    assert line.reason == "Twilio: 32009"  # type: ignore[attr-defined]
    phone = await EscalationEvent.get(user_id=setup.primary.id, channel=Channel.PHONE, tier=1)
    assert (phone.status, phone.reason) == (DeliveryStatus.FAILED, "Twilio: 32009")
