"""Live alert events for GraphQL subscribers.

Each event carries a snapshot of the alert as committed by the change that
caused it. Subscribers render the snapshot instead of reading the alert back:
a read per event and per subscriber would queue behind the writers (on SQLite
behind the one connection) and make the feed lag exactly when alerts pour in,
and an event should show the state it announces, not whatever came later.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from opswatch import runtime
from opswatch.events.base import LiveEvent
from opswatch.models import Alert

TOPIC = "alerts"

_PLAIN = (
    "short_id",
    "fingerprint",
    "title",
    "description",
    "source",
    "labels",
    "annotations",
    "occurrences",
    "runbook_url",
    "resolution_notes",
    "agent_metadata",
    "escalation_tier",
    "escalation_cycle",
    "generator_url",
)
_ENUMS = ("severity", "status", "source_format", "escalation_state")
_TIMES = (
    "first_received_at",
    "last_received_at",
    "starts_at",
    "ends_at",
    "acknowledged_at",
    "resolved_at",
    "escalation_next_at",
)
_REFERENCES = (
    "service_id",
    "incident_id",
    "known_solution_id",
    "acknowledged_by_id",
    "resolved_by_id",
    "oncall_user_id",
    "escalation_policy_id",
)


class AlertEventKind(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"
    ESCALATED = "ESCALATED"


def snapshot(alert: Alert) -> dict[str, Any]:
    """The alert's public fields, JSON-safe, identical whichever bus carries them."""
    values: dict[str, Any] = alert.__dict__
    data: dict[str, Any] = {"id": str(alert.id)}
    data.update({name: values[name] for name in _PLAIN})
    data.update({name: values[name].value for name in _ENUMS})
    for name in _TIMES:
        data[name] = values[name].isoformat() if values[name] is not None else None
    for name in _REFERENCES:
        data[name] = str(values[name]) if values.get(name) is not None else None
    return data


def time_of(data: dict[str, Any], name: str) -> datetime | None:
    raw = data.get(name)
    return datetime.fromisoformat(raw) if raw is not None else None


def reference_of(data: dict[str, Any], name: str) -> uuid.UUID | None:
    raw = data.get(name)
    return uuid.UUID(raw) if raw is not None else None


async def publish_alert_event(*, alert: Alert, kind: AlertEventKind) -> str:
    """Publish after the change is committed, with the alert as it was committed."""
    return (await publish_alert_events([(alert, kind)]))[0]


async def publish_alert_events(changes: list[tuple[Alert, AlertEventKind]]) -> list[str]:
    """Several committed changes, in order, in one go."""
    if not changes:
        return []
    return await runtime.current().events.publish_many(
        [
            LiveEvent(
                topic=TOPIC,
                tenant_id=str(alert.tenant_id),  # type: ignore[attr-defined]
                kind=kind.value,
                data={"alert_id": str(alert.id), "alert": snapshot(alert)},
            )
            for alert, kind in changes
        ]
    )
