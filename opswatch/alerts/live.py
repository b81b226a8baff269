"""Live alert events for GraphQL subscribers."""

from __future__ import annotations

import uuid
from enum import StrEnum

from opswatch import runtime
from opswatch.events.base import LiveEvent

TOPIC = "alerts"


class AlertEventKind(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"
    ESCALATED = "ESCALATED"


async def publish_alert_event(
    *, tenant_id: uuid.UUID, alert_id: uuid.UUID, kind: AlertEventKind
) -> str:
    """Publish after the change is committed: subscribers re-read the alert by id."""
    return await runtime.current().events.publish(
        LiveEvent(
            topic=TOPIC, tenant_id=str(tenant_id), kind=kind.value, data={"alert_id": str(alert_id)}
        )
    )
