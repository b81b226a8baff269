"""What people do to alerts: acknowledge, resolve, escalate. Each change is
conditional on the current state in one UPDATE, audited in the same
transaction, and published once committed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from opswatch.alerts.live import AlertEventKind, publish_alert_event
from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.errors import Conflict, InvalidInput, NotFound
from opswatch.models import Alert, AlertStatus, EscalationState, Tenant, User


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


async def acknowledge(*, alert: Alert, user: User | None, actor: Actor) -> Alert:
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        changed = (
            await Alert.filter(id=alert.id, status=AlertStatus.FIRING)
            .using_db(connection)
            .update(
                status=AlertStatus.ACKNOWLEDGED,
                acknowledged_at=now,
                acknowledged_by_id=user.id if user else None,
                escalation_state=EscalationState.STOPPED,
                escalation_next_at=None,
                notify_pending=True,
            )
        )
        if not changed:
            await alert.refresh_from_db()
            if alert.status is AlertStatus.ACKNOWLEDGED:
                return alert  # acknowledging twice is not an error
            raise Conflict("a resolved alert cannot be acknowledged", field="id")
        await record(
            tenant_id=alert.tenant_id,  # type: ignore[attr-defined]
            actor=actor,
            action="alert.acknowledged",
            target_type="alert",
            target_id=alert.id,
            data={"before": {"status": "firing"}, "after": {"status": "acknowledged"}},
            connection=connection,
        )
    await alert.refresh_from_db()
    await publish_alert_event(
        tenant_id=alert.tenant_id,  # type: ignore[attr-defined]
        alert_id=alert.id,
        kind=AlertEventKind.ACKNOWLEDGED,
    )
    return alert


async def resolve(*, alert: Alert, user: User | None, notes: str | None, actor: Actor) -> Alert:
    if notes is not None and len(notes) > 10_000:
        raise InvalidInput("notes must be at most 10000 characters", field="notes")
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        before = alert.status.value
        changed = (
            await Alert.filter(id=alert.id, status__not=AlertStatus.RESOLVED)
            .using_db(connection)
            .update(
                status=AlertStatus.RESOLVED,
                resolved_at=now,
                resolved_by_id=user.id if user else None,
                resolution_notes=notes,
                escalation_state=EscalationState.STOPPED,
                escalation_next_at=None,
                notify_pending=True,
            )
        )
        if not changed:
            await alert.refresh_from_db()
            return alert  # resolving twice is not an error
        await record(
            tenant_id=alert.tenant_id,  # type: ignore[attr-defined]
            actor=actor,
            action="alert.resolved",
            target_type="alert",
            target_id=alert.id,
            data={"before": {"status": before}, "after": {"status": "resolved", "notes": notes}},
            connection=connection,
        )
    await alert.refresh_from_db()
    await publish_alert_event(
        tenant_id=alert.tenant_id,  # type: ignore[attr-defined]
        alert_id=alert.id,
        kind=AlertEventKind.RESOLVED,
    )
    return alert


async def request_escalation(*, alert: Alert, actor: Actor) -> Alert:
    """Ask for the next tier now. The escalation engine acts on it; here it is
    recorded (due now) and announced."""
    if alert.status is AlertStatus.RESOLVED:
        raise Conflict("a resolved alert cannot be escalated", field="id")
    now = datetime.now(UTC)
    async with in_transaction() as connection:
        await (
            Alert.filter(id=alert.id)
            .using_db(connection)
            .update(escalation_next_at=now, notify_pending=True)
        )
        await record(
            tenant_id=alert.tenant_id,  # type: ignore[attr-defined]
            actor=actor,
            action="alert.escalation_requested",
            target_type="alert",
            target_id=alert.id,
            data={"tier": alert.escalation_tier, "cycle": alert.escalation_cycle},
            connection=connection,
        )
    await alert.refresh_from_db()
    await publish_alert_event(
        tenant_id=alert.tenant_id,  # type: ignore[attr-defined]
        alert_id=alert.id,
        kind=AlertEventKind.ESCALATED,
    )
    return alert
