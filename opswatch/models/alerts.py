"""Alerts and their inbox.

One open (non-resolved) alert per (tenant, fingerprint) is enforced by a
partial unique index created in the migrations (Tortoise cannot declare it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from opswatch.models.base import Entity
from opswatch.models.enums import AlertSourceFormat, AlertStatus, EscalationState, Severity

if TYPE_CHECKING:
    from opswatch.models.escalation import EscalationPolicy
    from opswatch.models.knowledge import Incident
    from opswatch.models.tenants import ApiKey, Service, Tenant, User

OPEN_ALERT_INDEX = "alert_one_open_per_fingerprint"


class Alert(Entity):
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "models.Tenant", related_name="alerts", on_delete=fields.CASCADE
    )
    fingerprint = fields.CharField(max_length=255)
    short_id = fields.CharField(max_length=12)
    title = fields.CharField(max_length=500)
    description = fields.TextField(default="")
    severity = fields.CharEnumField(Severity, max_length=16)
    status = fields.CharEnumField(AlertStatus, max_length=16, default=AlertStatus.FIRING)
    source = fields.CharField(max_length=200, default="")
    source_format = fields.CharEnumField(AlertSourceFormat, max_length=16)
    labels: dict = fields.JSONField(default=dict)
    annotations: dict = fields.JSONField(default=dict)
    runbook_url = fields.CharField(max_length=2000, null=True)
    group_key = fields.TextField(null=True)
    generator_url = fields.CharField(max_length=2000, null=True)
    external_url = fields.CharField(max_length=2000, null=True)
    starts_at = fields.DatetimeField(null=True)
    ends_at = fields.DatetimeField(null=True)
    first_received_at = fields.DatetimeField()
    last_received_at = fields.DatetimeField()
    occurrences = fields.IntField(default=1)

    service: fields.ForeignKeyNullableRelation[Service] = fields.ForeignKeyField(
        "models.Service", related_name="alerts", null=True, on_delete=fields.SET_NULL
    )
    incident: fields.ForeignKeyNullableRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="alerts", null=True, on_delete=fields.SET_NULL
    )
    known_solution: fields.ForeignKeyNullableRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="matched_alerts", null=True, on_delete=fields.SET_NULL
    )
    oncall_user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="oncall_alerts", null=True, on_delete=fields.SET_NULL
    )
    acknowledged_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="acknowledged_alerts", null=True, on_delete=fields.SET_NULL
    )
    acknowledged_at = fields.DatetimeField(null=True)
    resolved_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="resolved_alerts", null=True, on_delete=fields.SET_NULL
    )
    resolved_at = fields.DatetimeField(null=True)
    resolution_notes = fields.TextField(null=True)
    agent_metadata: dict | None = fields.JSONField(null=True)

    # Escalation state lives in the row so a scheduler tick can claim due alerts.
    escalation_policy: fields.ForeignKeyNullableRelation[EscalationPolicy] = fields.ForeignKeyField(
        "models.EscalationPolicy", related_name="alerts", null=True, on_delete=fields.SET_NULL
    )
    escalation_state = fields.CharEnumField(
        EscalationState, max_length=16, default=EscalationState.NONE
    )
    escalation_tier = fields.IntField(default=0)
    escalation_cycle = fields.IntField(default=0)
    escalation_next_at = fields.DatetimeField(null=True)
    # Set when the alert's Slack message is out of date. A sync job claims the
    # alert by clearing it and setting a lease: a job that dies leaves the lease
    # behind, and an expired lease makes the alert due again.
    notify_pending = fields.BooleanField(default=False)
    notify_claimed_until = fields.DatetimeField(null=True)

    slack_channel = fields.CharField(max_length=64, null=True)
    slack_ts = fields.CharField(max_length=32, null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "alert"
        unique_together = (("tenant_id", "short_id"),)
        indexes = (
            ("tenant_id", "status", "last_received_at"),
            ("tenant_id", "fingerprint"),
            ("tenant_id", "service_id"),
            ("escalation_state", "escalation_next_at"),
        )


class AlertEvent(Entity):
    """The inbox: one row per received alert event, written before we answer 2xx."""

    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "models.Tenant", related_name="alert_events", on_delete=fields.CASCADE
    )
    api_key: fields.ForeignKeyNullableRelation[ApiKey] = fields.ForeignKeyField(
        "models.ApiKey", related_name="alert_events", null=True, on_delete=fields.SET_NULL
    )
    source_format = fields.CharEnumField(AlertSourceFormat, max_length=16)
    fingerprint = fields.CharField(max_length=255)
    # firing, resolved, acknowledged, or ignored (e.g. Keep's suppressed).
    status = fields.CharField(max_length=16)
    # The normalised event the pipeline consumes, and (payload) the sender's own
    # JSON for this one event.
    normalized: dict = fields.JSONField()
    payload: dict = fields.JSONField()
    received_at = fields.DatetimeField()
    processed_at = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)
    outcome = fields.CharField(max_length=32, null=True)
    # Why processing failed: the last error, kept with a quarantined event
    # (outcome "failed") so an admin can see it and retry the event after a fix.
    error = fields.TextField(null=True)
    alert: fields.ForeignKeyNullableRelation[Alert] = fields.ForeignKeyField(
        "models.Alert", related_name="inbox_events", null=True, on_delete=fields.CASCADE
    )

    class Meta:
        table = "alert_event"
        indexes = (("tenant_id", "received_at"),)
