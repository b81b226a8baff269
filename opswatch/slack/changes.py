"""What has happened to an alert that its Slack threads tell: each change once."""

from __future__ import annotations

from opswatch.models import Alert, AlertStatus, EscalationState


def escalation_note(alert: Alert) -> str | None:
    if alert.escalation_state is EscalationState.EXHAUSTED:
        return "Escalation exhausted: nobody acknowledged"
    if alert.escalation_tier > 1 or alert.escalation_cycle > 0:
        cycle = f" (round {alert.escalation_cycle + 1})" if alert.escalation_cycle else ""
        return f"Escalated to tier {alert.escalation_tier}{cycle}"
    return None


def changes_of(alert: Alert) -> list[str]:
    """The changes an alert has been through, as keys: a notice per key is said once."""
    changes = []
    if escalation_note(alert) is not None:
        changes.append(f"escalated:{alert.escalation_cycle}:{alert.escalation_tier}")
    if alert.acknowledged_at is not None:
        changes.append("acknowledged")
    if alert.status is AlertStatus.RESOLVED:
        changes.append("resolved")
    return changes
