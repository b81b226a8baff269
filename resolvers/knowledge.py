"""Resolvers of the knowledge domain: incidents, promotion, search, the live feed."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from opswatch import models, runtime
from opswatch.errors import InvalidInput, NotFound
from opswatch.knowledge import entries, incidents
from opswatch.knowledge.runbooks import runbook_url
from opswatch.knowledge.search import Hit, search
from resolvers.context import Info
from resolvers.ids import alert_id, id_text
from resolvers.loaders import Loaders
from resolvers.partial import given
from schema.knowledge import (
    Incident,
    IncidentChanges,
    IncidentConnection,
    IncidentEdge,
    IncidentEvent,
    IncidentEventKind,
    IncidentFilter,
    IncidentInput,
    IncidentPageInfo,
    KnowledgeHit,
    KnowledgeKind,
)

DEFAULT_PAGE = 50
MAX_PAGE = 100
MAX_HITS = 20


def _cursor(incident: models.Incident) -> str:
    raw = f"{incident.created_at.isoformat()}|{incident.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _after(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created, _, incident_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(created), uuid.UUID(incident_id)
    except ValueError:
        raise InvalidInput("after is not a cursor from this list", field="after") from None


def _filtered(
    query: QuerySet[models.Incident], where: IncidentFilter | None
) -> QuerySet[models.Incident]:
    if where is None:
        return query
    if where.status:
        query = query.filter(status__in=[models.IncidentStatus(s.value) for s in where.status])
    if where.severity:
        query = query.filter(severity__in=[models.Severity(s.value) for s in where.severity])
    if where.source:
        query = query.filter(source__in=[models.IncidentSource(s.value) for s in where.source])
    if where.text:
        query = query.filter(title__icontains=where.text.strip()[:200])
    if where.missing_knowledge is not None:
        query = _by_knowledge(query, lacking=where.missing_knowledge)
    return query


async def incidents_page(
    info: Info,
    filter: IncidentFilter | None = None,
    first: int | None = DEFAULT_PAGE,
    after: str | None = None,
) -> IncidentConnection:
    """Newest first, by keyset pagination."""
    principal = info.context.viewer()
    size = DEFAULT_PAGE if first is None else first
    if not 1 <= size <= MAX_PAGE:
        raise InvalidInput(f"first must be between 1 and {MAX_PAGE}", field="first")
    query = _filtered(models.Incident.filter(tenant=principal.tenant), filter)
    if after is not None:
        created, last_id = _after(after)
        query = query.filter(Q(created_at__lt=created) | Q(created_at=created, id__lt=last_id))
    rows = await query.order_by("-created_at", "-id").limit(size + 1)
    edges = [IncidentEdge(cursor=_cursor(r), node=Incident.from_model(r)) for r in rows[:size]]
    return IncidentConnection(
        edges=edges,
        page_info=IncidentPageInfo(
            has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None
        ),
    )


def _by_knowledge(query: QuerySet[models.Incident], *, lacking: bool) -> QuerySet[models.Incident]:
    """What ``missing_knowledge`` computes per incident, as a filter."""
    missing = Q(status=models.IncidentStatus.RESOLVED) & (
        Q(root_cause__isnull=True) | Q(root_cause="") | Q(solution__isnull=True) | Q(solution="")
    )
    return query.filter(missing) if lacking else query.filter(~missing)


async def incident(info: Info, id: strawberry.ID) -> Incident | None:
    principal = info.context.viewer()
    try:
        row = await incidents.get_incident(principal.tenant, id_text(id))
    except NotFound:
        return None
    return Incident.from_model(row)


def _spec(input: IncidentInput, source: models.IncidentSource) -> entries.EntrySpec:
    return entries.EntrySpec(
        title=input.title,
        severity=input.severity.value,
        summary=input.summary or "",
        root_cause=input.root_cause,
        solution=input.solution,
        tags=list(input.tags or []),
        match_rule=input.match_rule,
        status=models.IncidentStatus(input.status.value)
        if input.status
        else models.IncidentStatus.OPEN,
        source=source,
    )


async def create_incident(info: Info, input: IncidentInput) -> Incident:
    principal = info.context.viewer(models.Role.RESPONDER)
    created = await entries.create_entry(
        tenant=principal.tenant,
        spec=_spec(input, models.IncidentSource.MANUAL),
        author=principal.user,
        actor=principal.actor("graphql"),
    )
    await incidents.publish(created, incidents.IncidentEventKind.CREATED)
    return Incident.from_model(created)


# Fields of IncidentUpdate that always have a value (Python names): never nulled.
# Null empties the summary and the tags, and clears the others.
_REQUIRED = ("title", "severity", "status")


async def update_incident(info: Info, id: strawberry.ID, input: IncidentChanges) -> Incident:
    """Only the fields given change: a title edit keeps the root cause, the severity and
    the matching rule, so the incident stays the Known Solution it was."""
    principal = info.context.viewer(models.Role.RESPONDER)
    changes = given(input, required=_REQUIRED)
    if "severity" in changes:
        changes["severity"] = changes["severity"].value
    if "status" in changes:
        changes["status"] = models.IncidentStatus(changes["status"].value)
    if "tags" in changes:
        changes["tags"] = list(changes["tags"] or [])
    row = await incidents.get_incident(principal.tenant, id_text(id))
    was = row.status  # ``change_entry`` refreshes ``row`` in place
    updated = await entries.change_entry(
        incident=row, changes=changes, author=principal.user, actor=principal.actor("graphql")
    )
    await incidents.changed(updated, was=was)
    return Incident.from_model(updated)


async def resolve_incident(
    info: Info, id: strawberry.ID, root_cause: str, solution: str
) -> Incident:
    principal = info.context.viewer(models.Role.RESPONDER)
    row = await incidents.get_incident(principal.tenant, id_text(id))
    resolved = await incidents.resolve(
        incident=row,
        root_cause=root_cause,
        solution=solution,
        user=principal.user,
        actor=principal.actor("graphql"),
    )
    return Incident.from_model(resolved)


async def promote_to_incident(
    info: Info, alert_ids: list[strawberry.ID], title: str | None = None
) -> Incident:
    principal = info.context.viewer(models.Role.RESPONDER)
    promoted = await incidents.promote(
        tenant=principal.tenant,
        alert_ids=[alert_id(a, f"alertIds[{i}]") for i, a in enumerate(alert_ids)],
        title=title,
        user=principal.user,
        actor=principal.actor("graphql"),
    )
    return Incident.from_model(promoted)


async def search_knowledge_base(info: Info, query: str, first: int = 3) -> list[KnowledgeHit]:
    principal = info.context.viewer()
    if not 1 <= first <= MAX_HITS:
        raise InvalidInput(f"first must be between 1 and {MAX_HITS}", field="first")
    if len(query) > 500:
        raise InvalidInput("query must be at most 500 characters", field="query")
    hits = await search(principal.tenant, query, first=first)
    return [
        KnowledgeHit(
            kind=KnowledgeKind(h.kind),
            id=strawberry.ID(str(h.id)),
            title=h.title,
            severity=h.severity,
            preview=h.preview,
            highlight_start=h.highlight[0] if h.highlight else None,
            highlight_end=h.highlight[1] if h.highlight else None,
            score=h.score,
            link=_link(principal.tenant.id, h),
        )
        for h in hits
    ]


def _link(tenant_id: uuid.UUID, hit: Hit) -> str | None:
    """The hit's signed page: a runbook's by its slug, an incident's by its id."""
    if hit.kind == "runbook":
        return runbook_url(tenant_id, hit.slug) if hit.slug else None
    return incidents.incident_url(tenant_id, hit.id)


async def incident_events(
    info: Info, incident_id: strawberry.ID | None = None, after: str | None = None
) -> AsyncGenerator[IncidentEvent, None]:
    """Changes to the tenant's incidents (or one of them): those after ``after``
    first (within the retained window), then live ones."""
    principal = info.context.viewer()
    tenant_id = principal.tenant.id
    only: str | None = None
    if incident_id is not None:
        # As oncallChanged does for a roster: another tenant's incident is not found.
        only = str(
            (
                await incidents.get_incident(
                    principal.tenant, id_text(incident_id, "incidentId"), "incidentId"
                )
            ).id
        )
    stream = runtime.current().events.subscribe(
        topic=incidents.TOPIC, tenant_id=str(tenant_id), after=after
    )
    async for event in stream:
        if only is not None and event.data.get("incident_id") != only:
            continue
        row = await models.Incident.get_or_none(id=event.data["incident_id"], tenant_id=tenant_id)
        if row is None:
            continue
        info.context.loaders = Loaders(tenant_id)
        yield IncidentEvent(
            kind=IncidentEventKind(event.kind),
            cursor=event.cursor,
            incident=Incident.from_model(row),
        )
