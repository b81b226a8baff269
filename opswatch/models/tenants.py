"""Tenants and the credentials that act inside them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from opswatch.models.base import Entity
from opswatch.models.enums import Role

if TYPE_CHECKING:
    from opswatch.models.escalation import EscalationPolicy
    from opswatch.models.rosters import Roster


class Tenant(Entity):
    name = fields.CharField(max_length=200)
    slug = fields.CharField(max_length=64, unique=True)
    # Non-secret settings: severity mapping, default time zone, retention days,
    # Slack alert channel, telephony provider and from-number.
    settings: dict = fields.JSONField(default=dict)
    # Fernet-encrypted JSON of credentials (bot token, Twilio/Vonage secrets).
    secrets_encrypted = fields.TextField(null=True)
    slack_team_id = fields.CharField(max_length=32, unique=True, null=True)
    # The number calls and SMS come from; inbound SMS find their tenant by it.
    telephony_number = fields.CharField(max_length=20, unique=True, null=True)
    updated_at = fields.DatetimeField(auto_now=True)
    # Bumped by database triggers whenever what enrichment reads changes (services,
    # rosters and their members and overrides, users, escalation policies, solved
    # knowledge, runbooks), so workers may keep that configuration between batches.
    # Only the triggers write it: save a Tenant with update_fields, never whole.
    config_version = fields.BigIntField(default=0, db_default=0)

    class Meta:
        table = "tenant"


class ApiKey(Entity):
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "models.Tenant", related_name="api_keys", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    prefix = fields.CharField(max_length=16, unique=True)
    key_hash = fields.CharField(max_length=64)
    # Dotted paths into arbitrary JSON for the generic webhook, e.g. {"title": "alert.name"}.
    field_map: dict = fields.JSONField(default=dict)
    rate_limit_per_minute = fields.IntField(null=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_key"


class User(Entity):
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "models.Tenant", related_name="users", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=320)
    role = fields.CharEnumField(Role, max_length=16, default=Role.RESPONDER)
    phone = fields.CharField(max_length=20, null=True)
    timezone = fields.CharField(max_length=64, default="UTC")
    slack_user_id = fields.CharField(max_length=32, null=True)
    active = fields.BooleanField(default=True)
    # The personal on-call calendar feed, as for rosters (digest and sealed token).
    calendar_token = fields.CharField(max_length=64, unique=True, null=True)
    calendar_token_sealed = fields.TextField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "app_user"
        unique_together = (("tenant_id", "email"),)
        indexes = (("tenant_id", "slack_user_id"), ("tenant_id", "phone"))


class UserToken(Entity):
    """A personal API token (GraphQL bearer): many per user, each revocable."""

    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "models.Tenant", related_name="user_tokens", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="tokens", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200, default="default")
    prefix = fields.CharField(max_length=16, unique=True)
    token_hash = fields.CharField(max_length=64)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "user_token"


class Service(Entity):
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "models.Tenant", related_name="services", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    cluster = fields.CharField(max_length=200, null=True)
    namespace = fields.CharField(max_length=200, null=True)
    roster: fields.ForeignKeyNullableRelation[Roster] = fields.ForeignKeyField(
        "models.Roster", related_name="services", null=True, on_delete=fields.SET_NULL
    )
    escalation_policy: fields.ForeignKeyNullableRelation[EscalationPolicy] = fields.ForeignKeyField(
        "models.EscalationPolicy",
        related_name="services",
        null=True,
        on_delete=fields.SET_NULL,
    )
    slack_channel = fields.CharField(max_length=64, null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "service"
        unique_together = (("tenant_id", "name"),)
        indexes = (("tenant_id", "cluster", "namespace"),)
