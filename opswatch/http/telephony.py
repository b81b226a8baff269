"""What the Twilio and Vonage callbacks share: finding the attempt a callback is
about, the refusal for bad signatures, and moving an attempt's status forward."""

from __future__ import annotations

import logging
import uuid

from starlette.requests import Request
from starlette.responses import Response

from opswatch.logs import channel_label, delivery_failed, person_label
from opswatch.metrics.definitions import PAGE_REPORTS
from opswatch.models import Alert, DeliveryStatus, EscalationEvent, Tenant, User

log = logging.getLogger(__name__)

# Progress never goes backwards: a late "ringing" does not undo "answered".
RANK = {
    DeliveryStatus.QUEUED: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.NO_ANSWER: 3,
    DeliveryStatus.FAILED: 3,
    DeliveryStatus.ANSWERED: 4,
}


async def event_of(request: Request) -> tuple[EscalationEvent | None, Tenant | None]:
    """The attempt named by ``?event_id=`` and its tenant (whose secret checks the call)."""
    try:
        event_id = uuid.UUID(request.query_params.get("event_id", ""))
    except ValueError:
        return None, None
    event = await EscalationEvent.get_or_none(id=event_id)
    if event is None:
        return None, None
    return event, await Tenant.get_or_none(id=event.tenant_id)  # type: ignore[attr-defined]


def forbidden() -> Response:
    return Response("signature check failed", status_code=403, media_type="text/plain")


async def advance(event: EscalationEvent, new: DeliveryStatus | None, reason: str) -> None:
    """Record a provider's progress report, if it is progress; ``reason`` for failures."""
    if new is None or RANK.get(new, 0) <= RANK.get(event.status, 0):
        return
    values: dict[str, object] = {"status": new}
    if new is DeliveryStatus.FAILED:
        values["reason"] = reason
    # Only from a lower rank, in the statement itself: two callbacks racing (Twilio
    # retries, a status and a voice callback at once) move it forward once, so a
    # failure is logged and counted once.
    lower = [status for status in DeliveryStatus if RANK.get(status, 0) < RANK[new]]
    moved = await EscalationEvent.filter(id=event.id, status__in=lower).update(**values)
    if not moved:
        return
    PAGE_REPORTS.labels(event.channel.name, new.name).inc()
    if new in (DeliveryStatus.FAILED, DeliveryStatus.NO_ANSWER):
        await _report_failure(event, new, reason)


async def _report_failure(event: EscalationEvent, status: DeliveryStatus, reason: str) -> None:
    """A page the provider took and later reported as not delivered: the same WARNING
    line and count as a refusal at send time (``escalation.delivery``)."""
    tenant = await Tenant.get(id=event.tenant_id)  # type: ignore[attr-defined]
    alert = await Alert.get_or_none(id=event.alert_id)  # type: ignore[attr-defined]
    user_id = event.user_id  # type: ignore[attr-defined]
    user = await User.get_or_none(id=user_id) if user_id else None
    delivery_failed(
        log,
        f"page {status.value} (reported by the provider)",
        tenant=tenant.slug,
        alert=alert.short_id if alert else None,
        person=person_label(user_id, user.name if user else None) if user_id else None,
        channel=channel_label(event.channel.name, None),
        reason=reason if status is DeliveryStatus.FAILED else "no answer",
    )
