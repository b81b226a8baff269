"""What people do to alerts: acknowledge, resolve, escalate. Each change is
conditional on the current state in one UPDATE, audited in the same
transaction, and published once committed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from tortoise.transactions import in_transaction

from opswatch.alerts.live import AlertEventKind, publish_alert_event
from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.errors import Conflict, InvalidInput, NotFound
from opswatch.models import Alert, AlertStatus, EscalationState, Tenant, User
from opswatch.queue import enqueue

# The escalation engine's tick (tasks/escalation.py), woken when a step becomes due now.
TICK_JOB = "escalation.tick"
# Brings alerts' Slack messages up to date (tasks/slack.py), woken by every change they show.
SLACK_SYNC_JOB = "slack.sync_alerts"


async def get_alert(*, tenant: Tenant, alert_id: str) -> Alert:
    """By id or short id; another tenant's alert is not found."""
    query = Alert.filter(tenant=tenant)
    try:
        alert = await query.get_or_none(id=uuid.UUID(alert_id))
    except ValueError:
        alert = await query.get_or_none(short_id=alert_id.strip().lower())
    if alert is None:
        raise NotFound(f"no alert {alert_id!r}", field="id")
    return alert


async def _change(
    alert: Alert,
    *,
    only_if: dict[str, Any],
    values: dict[str, Any],
    actor: Actor,
    action: str,
    data: dict[str, Any],
    kind: AlertEventKind,
) -> bool:
    """Apply ``values`` when the row still matches ``only_if``, audit it in the same
    transaction, then publish. False (and nothing written) when the row did not match."""
    async with in_transaction() as connection:
        changed = await Alert.filter(id=alert.id, **only_if).using_db(connection).update(**values)
        if changed:
            await record(
                tenant_id=alert.tenant_id,  # type: ignore[attr-defined]
                actor=actor,
                action=action,
                target_type="alert",
                target_id=alert.id,
                data=data,
                connection=connection,
            )
    await alert.refresh_from_db()
    if changed:
        await publish_alert_event(alert=alert, kind=kind)
        if values.get("notify_pending"):
            await enqueue(SLACK_SYNC_JOB)
    return bool(changed)


async def acknowledge(*, alert: Alert, user: User | None, actor: Actor) -> Alert:
    changed = await _change(
        alert,
        only_if={"status": AlertStatus.FIRING},
        values={
            "status": AlertStatus.ACKNOWLEDGED,
            "acknowledged_at": datetime.now(UTC),
            "acknowledged_by_id": user.id if user else None,
            "escalation_state": EscalationState.STOPPED,
            "escalation_next_at": None,
            "notify_pending": True,
        },
        actor=actor,
        action="alert.acknowledged",
        data={"before": {"status": "firing"}, "after": {"status": "acknowledged"}},
        kind=AlertEventKind.ACKNOWLEDGED,
    )
    if not changed and alert.status is AlertStatus.RESOLVED:
        raise Conflict("a resolved alert cannot be acknowledged", field="id")
    return alert  # acknowledging twice is not an error


async def resolve(*, alert: Alert, user: User | None, notes: str | None, actor: Actor) -> Alert:
    if notes is not None and len(notes) > 10_000:
        raise InvalidInput("notes must be at most 10000 characters", field="notes")
    await _change(
        alert,
        only_if={"status__not": AlertStatus.RESOLVED},
        values={
            "status": AlertStatus.RESOLVED,
            "resolved_at": datetime.now(UTC),
            "resolved_by_id": user.id if user else None,
            "resolution_notes": notes,
            "escalation_state": EscalationState.STOPPED,
            "escalation_next_at": None,
            "notify_pending": True,
        },
        actor=actor,
        action="alert.resolved",
        data={
            "before": {"status": alert.status.value},
            "after": {"status": "resolved", "notes": notes},
        },
        kind=AlertEventKind.RESOLVED,
    )
    return alert  # resolving twice is not an error


async def request_escalation(*, alert: Alert, actor: Actor) -> Alert:
    """Ask for the next tier now: the step is made due at once and the engine is
    woken. Even an acknowledged alert escalates when asked (its responder wants
    help); an exhausted one starts a new cycle."""
    values: dict[str, Any] = {"escalation_next_at": datetime.now(UTC), "notify_pending": True}
    if alert.escalation_policy_id is not None:  # type: ignore[attr-defined]
        values["escalation_state"] = EscalationState.ACTIVE
        if alert.escalation_state is EscalationState.EXHAUSTED:
            values["escalation_tier"] = 0
            values["escalation_cycle"] = alert.escalation_cycle + 1
    changed = await _change(
        alert,
        only_if={"status__not": AlertStatus.RESOLVED},
        values=values,
        actor=actor,
        action="alert.escalation_requested",
        data={"tier": alert.escalation_tier, "cycle": alert.escalation_cycle},
        kind=AlertEventKind.ESCALATED,
    )
    if not changed:
        raise Conflict("a resolved alert cannot be escalated", field="id")
    await enqueue(TICK_JOB)
    return alert
