"""Rosters, their ordered members, overrides and handoffs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields

from opswatch.models.base import Entity
from opswatch.models.enums import RosterKind

if TYPE_CHECKING:
    from opswatch.models.tenants import Tenant, User


class Roster(Entity):
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "models.Tenant", related_name="rosters", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    kind = fields.CharEnumField(RosterKind, max_length=16, default=RosterKind.STANDARD)
    timezone = fields.CharField(max_length=64, default="UTC")
    start_date = fields.DateField()
    rotation_length_days = fields.IntField(default=7)
    handoff_time = fields.CharField(max_length=5, default="09:00")  # local "HH:MM"
    # Sub-rosters of a follow-the-sun roster cover a local window, e.g. 08:00-20:00.
    coverage_start = fields.CharField(max_length=5, null=True)
    coverage_end = fields.CharField(max_length=5, null=True)
    parent: fields.ForeignKeyNullableRelation[Roster] = fields.ForeignKeyField(
        "models.Roster", related_name="children", null=True, on_delete=fields.CASCADE
    )
    # The iCal feed URL carries an unguessable token: looked up by its SHA-256
    # digest, kept encrypted so the URL can be shown again.
    calendar_token = fields.CharField(max_length=64, unique=True)
    calendar_token_sealed = fields.TextField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "roster"
        indexes = (("tenant_id", "parent_id"),)


class RosterMember(Entity):
    roster: fields.ForeignKeyRelation[Roster] = fields.ForeignKeyField(
        "models.Roster", related_name="members", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="roster_memberships", on_delete=fields.CASCADE
    )
    position = fields.IntField()

    class Meta:
        table = "roster_member"
        unique_together = (("roster_id", "user"),)
        indexes = (("roster_id", "position"),)


class Override(Entity):
    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "models.Tenant", related_name="overrides", on_delete=fields.CASCADE
    )
    roster: fields.ForeignKeyRelation[Roster] = fields.ForeignKeyField(
        "models.Roster", related_name="overrides", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="overrides", on_delete=fields.CASCADE
    )
    start_at = fields.DatetimeField()
    end_at = fields.DatetimeField()
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="created_overrides", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "roster_override"
        indexes = (("roster_id", "start_at", "end_at"),)


class Handoff(Entity):
    """One shift change, unique per (roster, shift start) so it is announced once."""

    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "models.Tenant", related_name="handoffs", on_delete=fields.CASCADE
    )
    roster: fields.ForeignKeyRelation[Roster] = fields.ForeignKeyField(
        "models.Roster", related_name="handoffs", on_delete=fields.CASCADE
    )
    shift_start = fields.DatetimeField()
    outgoing: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="handoffs_out", null=True, on_delete=fields.SET_NULL
    )
    incoming: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="handoffs_in", null=True, on_delete=fields.SET_NULL
    )
    notified_at = fields.DatetimeField(null=True)
    # Who held the pager before and after (sub-roster, source), and the open
    # alerts at the handoff: what the notices and the handoff report show.
    report: dict = fields.JSONField(default=dict)

    class Meta:
        table = "handoff"
        unique_together = (("roster_id", "shift_start"),)
