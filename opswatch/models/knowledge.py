"""Knowledge: incidents (with root cause and solution) and runbooks. Never auto-deleted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from opswatch.models.base import Entity
from opswatch.models.enums import IncidentSource, IncidentStatus, Severity

if TYPE_CHECKING:
    from opswatch.models.tenants import Service, Tenant, User


class Incident(Entity):
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "models.Tenant", related_name="incidents", on_delete=fields.CASCADE
    )
    title = fields.CharField(max_length=500)
    severity = fields.CharEnumField(Severity, max_length=16, default=Severity.WARNING)
    status = fields.CharEnumField(IncidentStatus, max_length=16, default=IncidentStatus.OPEN)
    summary = fields.TextField(default="")
    root_cause = fields.TextField(null=True)
    solution = fields.TextField(null=True)
    tags: list = fields.JSONField(default=list)
    # {"alertname": "...", "labels": {"namespace": "customer-api"}}: makes this
    # incident the "Known Solution" of future alerts that match.
    match_rule: dict | None = fields.JSONField(null=True)
    source = fields.CharEnumField(IncidentSource, max_length=16, default=IncidentSource.MANUAL)
    # Agent knowledge is one entry per fingerprint; NULLs never collide.
    agent_fingerprint = fields.CharField(max_length=255, null=True)
    agent_metadata: dict | None = fields.JSONField(null=True)
    occurrences = fields.IntField(default=1)
    commander: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="commanded_incidents", null=True, on_delete=fields.SET_NULL
    )
    slack_channel = fields.CharField(max_length=64, null=True)
    slack_thread_ts = fields.CharField(max_length=32, null=True)
    resolved_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "incident"
        unique_together = (("tenant_id", "agent_fingerprint"),)
        indexes = (("tenant_id", "status", "created_at"),)


class IncidentUpdate(Entity):
    """The incident's timeline: notes, status changes, linked alerts."""

    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "models.Tenant", related_name="incident_updates", on_delete=fields.CASCADE
    )
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="updates", on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="incident_updates", null=True, on_delete=fields.SET_NULL
    )
    kind = fields.CharField(max_length=32)
    text = fields.TextField(default="")

    class Meta:
        table = "incident_update"
        indexes = (("incident_id", "created_at"),)


class Runbook(Entity):
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "models.Tenant", related_name="runbooks", on_delete=fields.CASCADE
    )
    title = fields.CharField(max_length=500)
    slug = fields.CharField(max_length=200)
    body = fields.TextField(default="")
    tags: list = fields.JSONField(default=list)
    alertnames: list = fields.JSONField(default=list)
    services: fields.ManyToManyRelation[Service] = fields.ManyToManyField(
        "models.Service", related_name="runbooks", through="runbook_service"
    )
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "runbook"
        unique_together = (("tenant_id", "slug"),)
