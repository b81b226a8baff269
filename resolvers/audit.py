"""Resolvers of the audit domain (admins only): the log, and retention settings."""

from __future__ import annotations

import strawberry
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from opswatch import models
from opswatch.audit.retention import set_retention
from opswatch.errors import InvalidInput
from resolvers.context import Info
from resolvers.cursors import after_keyset, keyset_cursor
from schema.audit import AuditConnection, AuditEdge, AuditEntry, AuditFilter, AuditPageInfo
from schema.tenants import Tenant

DEFAULT_PAGE = 50
MAX_PAGE = 200


def _cursor(row: models.AuditLog) -> str:
    return keyset_cursor(row.created_at, row.id)


# The columns' lengths: a longer value matches nothing and is the client's mistake.
_LENGTHS = (
    ("actor_id", "actorId", 64),
    ("action", "action", 64),
    ("target_type", "targetType", 32),
    ("target_id", "targetId", 64),
)


def _checked(where: AuditFilter) -> None:
    for attribute, name, limit in _LENGTHS:
        value = getattr(where, attribute)
        if value is not None and len(value) > limit:
            field = f"filter.{name}"
            raise InvalidInput(f"{field} must be at most {limit} characters", field=field)
    if where.actor_type and where.actor_type not in {t.value for t in models.ActorType}:
        allowed = ", ".join(t.value for t in models.ActorType)
        raise InvalidInput(f"filter.actorType must be one of {allowed}", field="filter.actorType")


def _filtered(
    query: QuerySet[models.AuditLog], where: AuditFilter | None
) -> QuerySet[models.AuditLog]:
    if where is None:
        return query
    _checked(where)
    if where.actor_type:
        query = query.filter(actor_type=where.actor_type)
    if where.actor_id:
        query = query.filter(actor_id=where.actor_id)
    if where.action:
        if where.action.endswith("."):
            query = query.filter(action__startswith=where.action)
        else:
            query = query.filter(action=where.action)
    if where.target_type:
        query = query.filter(target_type=where.target_type)
    if where.target_id:
        query = query.filter(target_id=where.target_id)
    if where.after_time is not None:
        query = query.filter(created_at__gte=where.after_time)
    if where.before_time is not None:
        query = query.filter(created_at__lt=where.before_time)
    return query


async def audit_log(
    info: Info,
    filter: AuditFilter | None = None,
    first: int | None = DEFAULT_PAGE,
    after: str | None = None,
) -> AuditConnection:
    """Newest first, keyset-paged; the archive is not searched here."""
    principal = info.context.viewer(models.Role.ADMIN)
    size = DEFAULT_PAGE if first is None else first
    if not 1 <= size <= MAX_PAGE:
        raise InvalidInput(f"first must be between 1 and {MAX_PAGE}", field="first")
    query = _filtered(models.AuditLog.filter(tenant=principal.tenant), filter)
    if after is not None:
        created, last_id = after_keyset(after)
        query = query.filter(Q(created_at__lt=created) | Q(created_at=created, id__lt=last_id))
    rows = await query.order_by("-created_at", "-id").limit(size + 1)
    edges = [AuditEdge(cursor=_cursor(r), node=AuditEntry.from_model(r)) for r in rows[:size]]
    return AuditConnection(
        edges=edges,
        page_info=AuditPageInfo(
            has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None
        ),
    )


async def update_retention(
    info: Info,
    retention_days_alerts: int | None = strawberry.UNSET,
    retention_days_audit: int | None = strawberry.UNSET,
) -> Tenant:
    """Partial: an argument left out keeps its days; null is refused (a tenant always
    keeps its data for some number of days)."""
    principal = info.context.viewer(models.Role.ADMIN)
    days = {
        "retentionDaysAlerts": retention_days_alerts,
        "retentionDaysAudit": retention_days_audit,
    }
    for name, value in days.items():
        if value is None:
            raise InvalidInput(f"{name} cannot be null; leave it out to keep it", field=name)
    given_days = {name: None if v is strawberry.UNSET else v for name, v in days.items()}
    tenant = await set_retention(
        tenant=principal.tenant,
        alert_days=given_days["retentionDaysAlerts"],
        audit_days=given_days["retentionDaysAudit"],
        actor=principal.actor("graphql"),
    )
    return Tenant.from_model(tenant)
