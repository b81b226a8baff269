"""What a paged person can answer, whichever provider carried it: a digit on a call
(1 acknowledge, 2 escalate) or an SMS reply ("ACK", "ESC", "ACK abc123")."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from opswatch.alerts import actions
from opswatch.audit.actor import Actor
from opswatch.errors import Conflict
from opswatch.models import (
    ActorType,
    Alert,
    AlertStatus,
    Channel,
    DeliveryStatus,
    EscalationEvent,
    Tenant,
    User,
)

_REPLY = re.compile(r"^\s*(ack|esc)(?:\s+([a-z0-9]{4,12}))?\s*[.!]?\s*$", re.IGNORECASE)
HELP = "Reply ACK to acknowledge or ESC to escalate, optionally with the alert ID (ACK abc123)."


@dataclass(frozen=True)
class Outcome:
    text: str  # what to say or text back
    alerts: list[Alert]


async def covered_alerts(event: EscalationEvent) -> list[Alert]:
    """The alerts one call or SMS was about: its own, and those folded into it as a summary."""
    ids = [event.alert_id]  # type: ignore[attr-defined]
    if event.provider_ref:
        ids += await EscalationEvent.filter(
            provider_ref=event.provider_ref,
            channel=event.channel,
            status=DeliveryStatus.THROTTLED,
        ).values_list("alert_id", flat=True)
    return list(await Alert.filter(id__in=list(dict.fromkeys(ids))).order_by("created_at"))


async def acknowledge_by_phone(event: EscalationEvent, source: str) -> Outcome:
    person = await _person(event)
    alerts = await covered_alerts(event)
    done = []
    for alert in alerts:
        if alert.status is AlertStatus.RESOLVED:
            continue
        await actions.acknowledge(alert=alert, user=person, actor=_actor(person, event, source))
        done.append(alert)
    await EscalationEvent.filter(id=event.id).update(status=DeliveryStatus.ANSWERED)
    if not done:
        return Outcome("These alerts are already resolved.", [])
    noun = "Alert" if len(done) == 1 else f"{len(done)} alerts"
    return Outcome(f"{noun} acknowledged. Thank you.", done)


async def escalate_by_phone(event: EscalationEvent, source: str) -> Outcome:
    person = await _person(event)
    alerts = await covered_alerts(event)
    done = []
    for alert in alerts:
        try:
            await actions.request_escalation(alert=alert, actor=_actor(person, event, source))
        except Conflict:
            continue  # resolved meanwhile
        done.append(alert)
    await EscalationEvent.filter(id=event.id).update(status=DeliveryStatus.ANSWERED)
    if not done:
        return Outcome("These alerts are already resolved.", [])
    return Outcome("Escalated to the next tier.", done)


async def sms_reply(tenant: Tenant, sender: str, body: str) -> Outcome:
    """Act on an SMS reply; the text to send back always says what happened."""
    person = await User.get_or_none(tenant=tenant, phone=sender, active=True)
    if person is None:
        return Outcome("This number is not registered with OpsWatch; nothing was changed.", [])
    match = _REPLY.match(body or "")
    if match is None:
        return Outcome(f"Not understood. {HELP}", [])
    command, code = match.group(1).lower(), match.group(2)
    if code:
        alert = await Alert.get_or_none(tenant=tenant, short_id=code.lower())
        if alert is None:
            return Outcome(f"No alert {code}. {HELP}", [])
        event = await _latest_sms(sender, alert.id)
        targets = [alert]
    else:
        event = await _latest_sms(sender, None)
        if event is None:
            return Outcome(f"No alert was sent to this number. {HELP}", [])
        targets = await covered_alerts(event)
    actor = Actor(ActorType.PHONE, str(person.id), person.name, "sms")
    changed = []
    for alert in targets:
        if alert.status is AlertStatus.RESOLVED:
            continue
        if command == "ack":
            await actions.acknowledge(alert=alert, user=person, actor=actor)
        else:
            await actions.request_escalation(alert=alert, actor=actor)
        changed.append(alert)
    if event is not None:
        await EscalationEvent.filter(id=event.id).update(status=DeliveryStatus.ANSWERED)
    if not changed:
        return Outcome("Already resolved; nothing to do.", [])
    ids = ", ".join(a.short_id for a in changed)
    verb = "Acknowledged" if command == "ack" else "Escalated"
    return Outcome(f"{verb}: {ids}.", changed)


async def _latest_sms(sender: str, alert_id: uuid.UUID | None) -> EscalationEvent | None:
    query = EscalationEvent.filter(
        to_address=sender,
        channel=Channel.SMS,
        status__in=[
            DeliveryStatus.QUEUED,
            DeliveryStatus.SENT,
            DeliveryStatus.DELIVERED,
            DeliveryStatus.ANSWERED,
        ],
    )
    if alert_id is not None:
        query = query.filter(alert_id=alert_id)
    return await query.order_by("-sent_at").first()


async def _person(event: EscalationEvent) -> User | None:
    user_id: uuid.UUID | None = event.user_id  # type: ignore[attr-defined]
    return await User.get_or_none(id=user_id) if user_id else None


def _actor(person: User | None, event: EscalationEvent, source: str) -> Actor:
    if person is None:
        return Actor(ActorType.PHONE, event.to_address, event.to_address, source)
    return Actor(ActorType.PHONE, str(person.id), person.name, source)
