"""Sending one escalation event: each is sent at most once, and one person is not
called (or texted) more than once a minute.

The job first claims its event (pending -> sending) in one conditional UPDATE:
a second copy of the job, or a retry after a crash, finds nothing to claim.
If the same person was reached on the same channel within ``THROTTLE``, the
event goes back to pending and the job comes back when the window ends; when
it sends, it also claims every other pending event for that person and
channel and sends one summary for all of them (a storm of 50 alerts is one
call, not 50). What the provider said is recorded on every event it covered.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from opswatch import runtime
from opswatch.escalation import messages
from opswatch.escalation.providers.base import (
    CallLinks,
    OutcomeUnknown,
    ProviderUnavailable,
    Rejected,
    Sent,
)
from opswatch.escalation.providers.log import LogProvider
from opswatch.models import (
    Alert,
    AlertStatus,
    Channel,
    DeliveryStatus,
    EscalationEvent,
    Service,
    Tenant,
)
from opswatch.queue import enqueue
from opswatch.slack import direct
from opswatch.slack.workspace import client_for
from opswatch.sql import Statement
from opswatch.tenants.telephony import provider_for

log = logging.getLogger(__name__)

THROTTLE = timedelta(seconds=60)
IN_FLIGHT_RECHECK = timedelta(seconds=2)
MAX_ATTEMPTS = 5
DELIVER_JOB = "escalation.deliver"
THROTTLED_CHANNELS = (Channel.PHONE, Channel.SMS)
REACHED = (
    DeliveryStatus.QUEUED,
    DeliveryStatus.SENT,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.ANSWERED,
    DeliveryStatus.NO_ANSWER,
)


class RetryLater(Exception):
    """The provider could not take it now; the job is retried with backoff."""


@dataclass(frozen=True)
class Claim:
    event: EscalationEvent
    companions: list[EscalationEvent]


async def deliver(event_id: uuid.UUID, now: datetime | None = None) -> DeliveryStatus | None:
    """Send one event (and whatever it can carry along); None when there was nothing to do."""
    moment = now or datetime.now(UTC)
    claim = await _claim(event_id, moment)
    if claim is None:
        return None
    events = [claim.event, *claim.companions]
    alerts = {a.id: a for a in await Alert.filter(id__in=[e.alert_id for e in events])}  # type: ignore[attr-defined]
    live = [e for e in events if _still_wanted(e, alerts[e.alert_id])]  # type: ignore[attr-defined]
    dropped = [e for e in events if e not in live]
    if dropped:
        await _finish(dropped, DeliveryStatus.CANCELED, reason="acknowledged or resolved first")
    if not live:
        return DeliveryStatus.CANCELED
    primary = live[0]
    try:
        sent, text, provider = await _send(primary, [alerts[e.alert_id] for e in live])  # type: ignore[attr-defined]
    except ProviderUnavailable as error:
        if primary.attempts >= MAX_ATTEMPTS:
            await _finish(live, DeliveryStatus.FAILED, reason=f"gave up: {error}")
            return DeliveryStatus.FAILED
        await _release(live)
        raise RetryLater(str(error)) from None
    except Rejected as error:
        await _finish(live, DeliveryStatus.FAILED, reason=str(error))
        return DeliveryStatus.FAILED
    except OutcomeUnknown as error:
        await _finish(live, DeliveryStatus.UNKNOWN, reason=str(error))
        return DeliveryStatus.UNKNOWN
    sent_with = {"ref": sent.provider_ref, "text": text, "sent_at": moment, "provider": provider}
    await _finish([primary], sent.status, **sent_with)  # type: ignore[arg-type]
    if len(live) > 1:
        await _finish(
            live[1:],
            DeliveryStatus.THROTTLED,
            reason=f"included in the summary sent for event {primary.id}",
            **sent_with,  # type: ignore[arg-type]
        )
    return sent.status


def _still_wanted(event: EscalationEvent, alert: Alert) -> bool:
    """Resolved: never. Acknowledged after this page was decided: no longer needed.
    (An acknowledged alert someone escalated on purpose still pages.)"""
    if alert.status is AlertStatus.RESOLVED:
        return False
    acknowledged = alert.acknowledged_at
    return not (
        alert.status is AlertStatus.ACKNOWLEDGED
        and acknowledged is not None
        and acknowledged >= event.created_at
    )


async def _claim(event_id: uuid.UUID, now: datetime) -> Claim | None:
    claim = await _claim_in_transaction(event_id, now)
    if isinstance(claim, timedelta):
        # Enqueued after the commit: a job scheduled inside the transaction would
        # inherit it as its database connection and run on a finished transaction.
        delay_ms = max(1, int(claim.total_seconds() * 1000))
        await enqueue(DELIVER_JOB, delay_ms=delay_ms, event_id=str(event_id))
        return None
    return claim


async def _claim_in_transaction(event_id: uuid.UUID, now: datetime) -> Claim | timedelta | None:
    """The claim; or how long to wait before trying again; or None (nothing to do)."""
    async with in_transaction() as connection:
        sql = Statement(connection)
        rows = await sql.rows(
            "UPDATE escalation_event SET status = 'sending', attempts = attempts + 1, "
            "updated_at = :now WHERE id = :id AND status = 'pending' RETURNING id",
            id=event_id,
            now=now,
        )
        if not rows:
            return None
        event = await EscalationEvent.filter(id=event_id).using_db(connection).get()
        if event.channel not in THROTTLED_CHANNELS or not event.to_address:
            return Claim(event, [])
        if not sql.sqlite:
            # One claim per person and channel at a time (SQLite has one writer anyway):
            # two jobs must not both find "nothing sent lately" and both call.
            await sql.rows(
                "SELECT pg_advisory_xact_lock(hashtext(:key))",
                key=f"page:{event.channel.value}:{event.to_address}",
            )
        wait = await _wait_before_reaching(connection, event, now)
        if wait is not None:
            await (
                EscalationEvent.filter(id=event_id)
                .using_db(connection)
                .update(status=DeliveryStatus.PENDING)
            )
            return wait
        companion_ids = [
            r["id"]
            for r in await sql.rows(
                "UPDATE escalation_event SET status = 'sending', attempts = attempts + 1, "
                "updated_at = :now WHERE to_address = :to AND channel = :channel "
                "AND status = 'pending' AND id <> :id RETURNING id",
                to=event.to_address,
                channel=event.channel.value,
                id=event_id,
                now=now,
            )
        ]
        companions = (
            await EscalationEvent.filter(id__in=companion_ids)
            .using_db(connection)
            .order_by("created_at")
        )
    return Claim(event, list(companions))


async def _wait_before_reaching(
    connection: BaseDBAsyncClient, event: EscalationEvent, now: datetime
) -> timedelta | None:
    """None when this person may be reached on this channel now; else how long to
    wait: until the window of the last message ends, or briefly while another
    message to them is being sent (it will carry what is pending, or fail and
    leave it for us)."""
    in_flight = (
        await EscalationEvent.filter(
            to_address=event.to_address,
            channel=event.channel,
            status=DeliveryStatus.SENDING,
            updated_at__gt=now - THROTTLE,
        )
        .exclude(id=event.id)
        .using_db(connection)
        .exists()
    )
    if in_flight:
        return IN_FLIGHT_RECHECK
    last = (
        await EscalationEvent.filter(
            to_address=event.to_address,
            channel=event.channel,
            sent_at__gt=now - THROTTLE,
            status__in=[*REACHED, DeliveryStatus.THROTTLED],
        )
        .using_db(connection)
        .order_by("-sent_at")
        .first()
    )
    if last is None or last.sent_at is None:
        return None
    return last.sent_at + THROTTLE - now


async def _send(event: EscalationEvent, alerts: list[Alert]) -> tuple[Sent, str, str]:
    """What was sent, its text, and through which provider."""
    current = runtime.current()
    tenant = await Tenant.get(id=event.tenant_id)  # type: ignore[attr-defined]
    service_ids = [a.service_id for a in alerts if a.service_id]  # type: ignore[attr-defined]
    services: dict[object, Service] = {s.id: s for s in await Service.filter(id__in=service_ids)}
    if event.channel in (Channel.SLACK_DM, Channel.SLACK_CHANNEL):
        client = client_for(tenant)
        if client is not None:
            sent, text = await direct.page(client, event, alerts[0])
            return sent, text, direct.PROVIDER
        text = messages.sms_text(alerts, services)
        if not current.settings.embedded:
            raise Rejected("Slack is not connected for this tenant")
        logger = LogProvider()
        return await logger.message(to=event.to_address or "", body=text), text, logger.name
    provider = provider_for(tenant, current.settings, current.secret_box)
    if provider is None:
        raise Rejected("no telephony provider is configured for this tenant")
    to = event.to_address or ""
    base = current.settings.public_url
    path = "vonage" if provider.name == "vonage" else "twilio"
    alert = alerts[0]
    ids = f"alert_id={alert.id}&event_id={event.id}"
    if event.channel is Channel.PHONE:
        script = messages.call_script(alerts, services)
        links = CallLinks(
            gather_url=f"{base}/api/v1/{path}/gather?{ids}&attempt=1",
            no_input_url=f"{base}/api/v1/{path}/gather?{ids}&attempt=1&timeout=1",
            status_url=f"{base}/api/v1/{path}/status?event_id={event.id}",
        )
        return await provider.call(to=to, script=script, links=links), script, provider.name
    text = messages.sms_text(alerts, services)
    status_url = f"{base}/api/v1/{path}/status?event_id={event.id}"
    return await provider.text(to=to, body=text, status_url=status_url), text, provider.name


async def _finish(
    events: list[EscalationEvent],
    status: DeliveryStatus,
    *,
    ref: str | None = None,
    text: str | None = None,
    sent_at: datetime | None = None,
    reason: str | None = None,
    provider: str | None = None,
) -> None:
    values: dict[str, object] = {"status": status, "updated_at": datetime.now(UTC)}
    if ref is not None:
        values["provider_ref"] = ref
    if text is not None:
        values["message"] = text
    if sent_at is not None:
        values["sent_at"] = sent_at
    if reason is not None:
        values["reason"] = reason
    if provider is not None:
        values["provider"] = provider
    await EscalationEvent.filter(id__in=[e.id for e in events]).update(**values)


async def _release(events: list[EscalationEvent]) -> None:
    """Back to pending, for the retry to claim again."""
    await EscalationEvent.filter(
        id__in=[e.id for e in events], status=DeliveryStatus.SENDING
    ).update(status=DeliveryStatus.PENDING)
