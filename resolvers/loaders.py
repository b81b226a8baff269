"""DataLoaders, built per request (and per subscription event), scoped to one tenant.

A nested field asks its loader; all asks of one tick become one query, so a
list of 100 alerts with their services costs one extra query, not 100.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from typing import TypeVar

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from opswatch.models import (
    Alert,
    AuditLog,
    EscalationEvent,
    EscalationPolicy,
    Incident,
    IncidentUpdate,
    Roster,
    RosterMember,
    Service,
    Tenant,
    User,
)
from opswatch.rosters.plans import load_plans
from opswatch.rosters.resolve import Plan

Row = TypeVar("Row", bound=Model)


def _by_id(model: type[Row], tenant_id: uuid.UUID | None) -> DataLoader[uuid.UUID, Row | None]:
    async def load(ids: Sequence[uuid.UUID]) -> list[Row | None]:
        query = model.filter(id__in=list(ids))
        if tenant_id is not None:
            query = query.filter(tenant_id=tenant_id)
        rows = {row.pk: row for row in await query}
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)


class Loaders:
    """One request's (or one subscription event's) loaders, each made when first used:
    a live feed makes a fresh set per event, and most events use none of them."""

    def __init__(self, tenant_id: uuid.UUID | None) -> None:
        self.tenant_id = tenant_id

    @cached_property
    def user(self) -> DataLoader[uuid.UUID, User | None]:
        return _by_id(User, self.tenant_id)

    @cached_property
    def service(self) -> DataLoader[uuid.UUID, Service | None]:
        return _by_id(Service, self.tenant_id)

    @cached_property
    def incident(self) -> DataLoader[uuid.UUID, Incident | None]:
        return _by_id(Incident, self.tenant_id)

    @cached_property
    def tenant(self) -> DataLoader[uuid.UUID, Tenant | None]:
        return _tenant_loader(self.tenant_id)

    @cached_property
    def roster(self) -> DataLoader[uuid.UUID, Roster | None]:
        return _by_id(Roster, self.tenant_id)

    @cached_property
    def roster_members(self) -> DataLoader[uuid.UUID, list[User]]:
        return _roster_members(self.tenant_id)

    @cached_property
    def sub_rosters(self) -> DataLoader[uuid.UUID, list[Roster]]:
        return _sub_rosters(self.tenant_id)

    @cached_property
    def plan(self) -> DataLoader[PlanKey, Plan | None]:
        return _plans(self.tenant_id)

    @cached_property
    def escalation_events(self) -> DataLoader[uuid.UUID, list[EscalationEvent]]:
        return _escalation_events(self.tenant_id)

    @cached_property
    def escalation_policy(self) -> DataLoader[uuid.UUID, EscalationPolicy | None]:
        return _policies(self.tenant_id)

    @cached_property
    def incident_alerts(self) -> DataLoader[uuid.UUID, list[Alert]]:
        return _children(Alert, "incident_id", self.tenant_id, ("created_at", "id"), 100)

    @cached_property
    def alert_timeline(self) -> DataLoader[str, list[AuditLog]]:
        return _alert_timeline(self.tenant_id)

    @cached_property
    def incident_updates(self) -> DataLoader[uuid.UUID, list[IncidentUpdate]]:
        return _children(IncidentUpdate, "incident_id", self.tenant_id, ("created_at", "id"), 200)


def _tenant_loader(tenant_id: uuid.UUID | None) -> DataLoader[uuid.UUID, Tenant | None]:
    async def load(ids: Sequence[uuid.UUID]) -> list[Tenant | None]:
        # A caller may only ever load its own tenant.
        wanted = [i for i in ids if i == tenant_id]
        rows = {row.id: row for row in await Tenant.filter(id__in=wanted)}
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)


def _roster_members(tenant_id: uuid.UUID | None) -> DataLoader[uuid.UUID, list[User]]:
    """Members of each roster, in rotation order."""

    async def load(ids: Sequence[uuid.UUID]) -> list[list[User]]:
        rows = (
            await RosterMember.filter(roster_id__in=list(ids), roster__tenant_id=tenant_id)
            .order_by("position")
            .select_related("user")
        )
        found: dict[uuid.UUID, list[User]] = {i: [] for i in ids}
        for row in rows:
            found[row.roster_id].append(row.user)  # type: ignore[attr-defined]
        return [found[i] for i in ids]

    return DataLoader(load_fn=load)


def _sub_rosters(tenant_id: uuid.UUID | None) -> DataLoader[uuid.UUID, list[Roster]]:
    async def load(ids: Sequence[uuid.UUID]) -> list[list[Roster]]:
        rows = await Roster.filter(parent_id__in=list(ids), tenant_id=tenant_id).order_by(
            "created_at", "id"
        )
        found: dict[uuid.UUID, list[Roster]] = {i: [] for i in ids}
        for row in rows:
            found[row.parent_id].append(row)  # type: ignore[attr-defined]
        return [found[i] for i in ids]

    return DataLoader(load_fn=load)


PlanKey = tuple[uuid.UUID, datetime, datetime]


def _plans(tenant_id: uuid.UUID | None) -> DataLoader[PlanKey, Plan | None]:
    """Plans keyed by (roster id, start, end): every roster of one tick in four queries,
    with the overrides of the widest range asked for."""

    async def load(keys: Sequence[PlanKey]) -> list[Plan | None]:
        ids = list({key[0] for key in keys})
        rosters = await Roster.filter(id__in=ids, tenant_id=tenant_id)
        start = min(key[1] for key in keys)
        end = max(key[2] for key in keys)
        plans = await load_plans(rosters, start, end)
        return [plans.get(key[0]) for key in keys]

    return DataLoader(load_fn=load)


def _children(
    model: type[Row],
    parent: str,
    tenant_id: uuid.UUID | None,
    order: tuple[str, ...],
    per_parent: int,
) -> DataLoader[uuid.UUID, list[Row]]:
    """Each parent's rows (``model.<parent>`` names it), in ``order``, at most
    ``per_parent`` each, in one query per batch of parents."""

    async def load(ids: Sequence[uuid.UUID]) -> list[list[Row]]:
        rows = (
            await model.filter(**{f"{parent}__in": list(ids)}, tenant_id=tenant_id)
            .order_by(*order)
            .limit(per_parent * len(ids))
        )
        found: dict[uuid.UUID, list[Row]] = {i: [] for i in ids}
        for row in rows:
            found[getattr(row, parent)].append(row)
        return [found[i][:per_parent] for i in ids]

    return DataLoader(load_fn=load)


def _alert_timeline(tenant_id: uuid.UUID | None) -> DataLoader[str, list[AuditLog]]:
    """Each alert's own audit entries, oldest first (at most 200 per alert)."""

    async def load(ids: Sequence[str]) -> list[list[AuditLog]]:
        rows = (
            await AuditLog.filter(tenant_id=tenant_id, target_type="alert", target_id__in=list(ids))
            .order_by("created_at", "id")
            .limit(200 * len(ids))
        )
        found: dict[str, list[AuditLog]] = {i: [] for i in ids}
        for row in rows:
            found[str(row.target_id)].append(row)
        return [found[i][:200] for i in ids]

    return DataLoader(load_fn=load)


def _escalation_events(tenant_id: uuid.UUID | None) -> DataLoader[uuid.UUID, list[EscalationEvent]]:
    """Each alert's attempts, oldest first (at most 500 per alert)."""

    async def load(ids: Sequence[uuid.UUID]) -> list[list[EscalationEvent]]:
        rows = (
            await EscalationEvent.filter(alert_id__in=list(ids), tenant_id=tenant_id)
            .order_by("created_at", "cycle", "tier", "id")
            .limit(500 * len(ids))
        )
        found: dict[uuid.UUID, list[EscalationEvent]] = {i: [] for i in ids}
        for row in rows:
            found[row.alert_id].append(row)  # type: ignore[attr-defined]
        return [found[i][:500] for i in ids]

    return DataLoader(load_fn=load)


def _policies(tenant_id: uuid.UUID | None) -> DataLoader[uuid.UUID, EscalationPolicy | None]:
    async def load(ids: Sequence[uuid.UUID]) -> list[EscalationPolicy | None]:
        rows = await EscalationPolicy.filter(
            id__in=list(ids), tenant_id=tenant_id
        ).prefetch_related("tiers", "tiers__rosters", "tiers__users")
        found = {row.id: row for row in rows}
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)
