"""Escalation policies, their tiers, and every attempt to reach a person."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from opswatch.models.base import Entity
from opswatch.models.enums import Channel, DeliveryStatus, Severity

if TYPE_CHECKING:
    from opswatch.models.alerts import Alert
    from opswatch.models.rosters import Roster
    from opswatch.models.tenants import Tenant, User


class EscalationPolicy(Entity):
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "models.Tenant", related_name="escalation_policies", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    repeat = fields.IntField(default=0)
    minimum_severity = fields.CharEnumField(Severity, max_length=16, null=True)
    is_default = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "escalation_policy"
        unique_together = (("tenant_id", "name"),)


class EscalationTier(Entity):
    policy: fields.ForeignKeyRelation[EscalationPolicy] = fields.ForeignKeyField(
        "models.EscalationPolicy", related_name="tiers", on_delete=fields.CASCADE
    )
    position = fields.IntField()
    delay_minutes = fields.IntField(default=0)
    channels: list = fields.JSONField(default=list)
    rosters: fields.ManyToManyRelation[Roster] = fields.ManyToManyField(
        "models.Roster", related_name="escalation_tiers", through="escalation_tier_roster"
    )
    users: fields.ManyToManyRelation[User] = fields.ManyToManyField(
        "models.User", related_name="escalation_tiers", through="escalation_tier_user"
    )

    class Meta:
        table = "escalation_tier"
        unique_together = (("policy", "position"),)


class EscalationEvent(Entity):
    """One attempt to reach one target on one channel for one tier of one cycle.

    Created before sending and unique, so a retried job never pages twice.
    ``target`` is a user id or a Slack channel id.
    """

    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "models.Tenant", related_name="escalation_events", on_delete=fields.CASCADE
    )
    alert: fields.ForeignKeyRelation[Alert] = fields.ForeignKeyField(
        "models.Alert", related_name="escalation_events", on_delete=fields.CASCADE
    )
    cycle = fields.IntField()
    tier = fields.IntField()
    target = fields.CharField(max_length=64)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="escalation_events", null=True, on_delete=fields.SET_NULL
    )
    channel = fields.CharEnumField(Channel, max_length=16)
    status = fields.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.PENDING)
    reason = fields.TextField(null=True)
    provider = fields.CharField(max_length=32, null=True)
    provider_ref = fields.CharField(max_length=128, null=True)
    to_address = fields.CharField(max_length=64, null=True)
    # What was (or would have been) said: the SMS text or the call's script.
    message = fields.TextField(null=True)
    sent_at = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "escalation_event"
        unique_together = (("alert", "cycle", "tier", "target", "channel"),)
        indexes = (("provider", "provider_ref"), ("tenant_id", "to_address", "created_at"))


class Notification(Entity):
    """Anything OpsWatch tells a person outside escalation (handoff notices,
    summaries). The dedup key makes sending the same notice twice impossible."""

    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "models.Tenant", related_name="notifications", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="notifications", null=True, on_delete=fields.SET_NULL
    )
    dedup_key = fields.CharField(max_length=255)
    kind = fields.CharField(max_length=64)
    channel = fields.CharEnumField(Channel, max_length=16)
    text = fields.TextField()
    payload: dict = fields.JSONField(default=dict)
    status = fields.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.PENDING)
    provider_ref = fields.CharField(max_length=128, null=True)
    error = fields.TextField(null=True)
    sent_at = fields.DatetimeField(null=True)
    # When the status last changed; a notice left "sending" long past it belongs to
    # a job that died mid-send (see opswatch.slack.direct).
    updated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notification"
        unique_together = (("tenant_id", "dedup_key"),)
        indexes = (("tenant_id", "user_id", "created_at"),)


class SlackEventReceipt(Entity):
    """An inbound Slack event already taken: Slack retries deliveries it thinks
    failed, and a retried DM must not log the same incident twice."""

    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "models.Tenant", related_name="slack_event_receipts", on_delete=fields.CASCADE
    )
    event_id = fields.CharField(max_length=64)

    class Meta:
        table = "slack_event_receipt"
        unique_together = (("tenant_id", "event_id"),)


class ProviderBreaker(Entity):
    """Whether one tenant's provider ("twilio", "vonage", "slack", "log") takes messages.

    Shared through the database, so that every worker process backs off together:
    while ``open_until`` lies ahead, delivery jobs leave their events pending
    instead of each asking the provider (and failing) again. Once it has passed,
    one job at a time may try (``probe_until`` is its lease); a send that goes
    through closes the breaker. ``failures`` counts the failed tries in a row (one
    per opening, however many jobs failed at once), and sets how long the next
    opening lasts. Written only by single conditional statements (see
    ``opswatch.escalation.breaker``).
    """

    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "models.Tenant", related_name="provider_breakers", on_delete=fields.CASCADE
    )
    provider = fields.CharField(max_length=32)
    failures = fields.IntField(default=0)
    open_until = fields.DatetimeField(null=True)
    probe_until = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    updated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "provider_breaker"
        unique_together = (("tenant_id", "provider"),)
