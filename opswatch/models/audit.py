"""The audit log and its archive, which share one shape."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from opswatch.models.enums import ActorType

if TYPE_CHECKING:
    from opswatch.models.tenants import Tenant


class AuditColumns(Model):
    id = fields.UUIDField(primary_key=True)
    actor_type = fields.CharEnumField(ActorType, max_length=16)
    actor_id = fields.CharField(max_length=64, null=True)
    actor_name = fields.CharField(max_length=200, null=True)
    action = fields.CharField(max_length=64)
    target_type = fields.CharField(max_length=32, null=True)
    target_id = fields.CharField(max_length=64, null=True)
    source = fields.CharField(max_length=16)
    data: dict = fields.JSONField(default=dict)
    created_at = fields.DatetimeField()

    class Meta:
        abstract = True


class AuditLog(AuditColumns):
    tenant: fields.ForeignKeyNullableRelation[Tenant] = fields.ForeignKeyField(
        "models.Tenant", related_name="audit_entries", null=True, on_delete=fields.CASCADE
    )

    class Meta:
        table = "audit_log"
        indexes = (
            ("tenant_id", "created_at"),
            ("tenant_id", "target_type", "target_id"),
            ("tenant_id", "action", "created_at"),
        )


class AuditLogArchive(AuditColumns):
    tenant: fields.ForeignKeyNullableRelation[Tenant] = fields.ForeignKeyField(
        "models.Tenant", related_name="archived_audit_entries", null=True, on_delete=fields.CASCADE
    )
    archived_at = fields.DatetimeField()

    class Meta:
        table = "audit_log_archive"
        indexes = (("tenant_id", "created_at"),)
