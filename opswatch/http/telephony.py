"""What the Twilio and Vonage callbacks share: finding the attempt a callback is
about, the refusal for bad signatures, and moving an attempt's status forward."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from opswatch.models import DeliveryStatus, EscalationEvent, Tenant

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
    await EscalationEvent.filter(id=event.id).update(**values)
