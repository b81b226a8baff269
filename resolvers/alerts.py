"""Resolvers of the alerts domain."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, datetime

import strawberry
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from opswatch import models, runtime
from opswatch.alerts import actions
from opswatch.alerts.live import TOPIC
from opswatch.errors import InvalidInput, NotFound
from resolvers.context import Info
from resolvers.ids import alert_id, parse_id
from resolvers.loaders import Loaders
from schema.alerts import (
    Alert,
    AlertConnection,
    AlertEdge,
    AlertEvent,
    AlertEventKind,
    AlertFilter,
    PageInfo,
)

DEFAULT_PAGE = 50
MAX_PAGE = 100
MAX_FINGERPRINT = 255  # the column's length


def _encode_cursor(alert: models.Alert) -> str:
    raw = f"{alert.created_at.isoformat()}|{alert.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created, _, alert_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(created), uuid.UUID(alert_id)
    except ValueError:
        raise InvalidInput("after is not a cursor from this list", field="after") from None


def _filtered(query: QuerySet[models.Alert], where: AlertFilter | None) -> QuerySet[models.Alert]:
    if where is None:
        return query
    if where.status:
        query = query.filter(status__in=[models.AlertStatus(s.value) for s in where.status])
    if where.severity:
        query = query.filter(severity__in=[models.Severity(s.value) for s in where.severity])
    if where.service_id is not None:
        query = query.filter(service_id=parse_id(where.service_id, "filter.serviceId"))
    if where.fingerprint:
        if len(where.fingerprint) > MAX_FINGERPRINT:
            raise InvalidInput(
                f"filter.fingerprint must be at most {MAX_FINGERPRINT} characters",
                field="filter.fingerprint",
            )
        query = query.filter(fingerprint=where.fingerprint)
    if where.text:
        query = query.filter(title__icontains=where.text.strip()[:200])
    if where.received_after is not None:
        query = query.filter(last_received_at__gte=where.received_after)
    if where.received_before is not None:
        query = query.filter(first_received_at__lt=where.received_before)
    return query


async def alerts(
    info: Info,
    filter: AlertFilter | None = None,
    first: int | None = DEFAULT_PAGE,
    after: str | None = None,
) -> AlertConnection:
    """Newest first, by keyset pagination: stable while new alerts keep arriving."""
    principal = info.context.viewer()
    size = DEFAULT_PAGE if first is None else first
    if not 1 <= size <= MAX_PAGE:
        raise InvalidInput(f"first must be between 1 and {MAX_PAGE}", field="first")
    query = _filtered(models.Alert.filter(tenant=principal.tenant), filter)
    if after is not None:
        created, alert_id = _decode_cursor(after)
        query = query.filter(Q(created_at__lt=created) | Q(created_at=created, id__lt=alert_id))
    rows = await query.order_by("-created_at", "-id").limit(size + 1)
    page = rows[:size]
    edges = [AlertEdge(cursor=_encode_cursor(row), node=Alert.from_model(row)) for row in page]
    return AlertConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None
        ),
    )


async def alert(info: Info, id: strawberry.ID) -> Alert | None:
    principal = info.context.viewer()
    try:
        row = await actions.get_alert(tenant=principal.tenant, alert_id=alert_id(id))
    except NotFound:
        return None
    return Alert.from_model(row)


async def acknowledge_alert(info: Info, id: strawberry.ID) -> Alert:
    principal = info.context.viewer(models.Role.RESPONDER)
    row = await actions.get_alert(tenant=principal.tenant, alert_id=alert_id(id))
    row = await actions.acknowledge(
        alert=row, user=principal.user, actor=principal.actor("graphql")
    )
    return Alert.from_model(row)


async def resolve_alert(info: Info, id: strawberry.ID, notes: str | None = None) -> Alert:
    principal = info.context.viewer(models.Role.RESPONDER)
    row = await actions.get_alert(tenant=principal.tenant, alert_id=alert_id(id))
    row = await actions.resolve(
        alert=row, user=principal.user, notes=notes, actor=principal.actor("graphql")
    )
    return Alert.from_model(row)


async def escalate_alert(info: Info, id: strawberry.ID) -> Alert:
    principal = info.context.viewer(models.Role.RESPONDER)
    row = await actions.get_alert(tenant=principal.tenant, alert_id=alert_id(id))
    row = await actions.request_escalation(alert=row, actor=principal.actor("graphql"))
    return Alert.from_model(row)


async def alert_events(
    info: Info, filter: AlertFilter | None = None, after: str | None = None
) -> AsyncGenerator[AlertEvent, None]:
    """Missed events after ``after`` first (within the retained window), then live ones.

    Each event brings the alert as its change committed it, so nothing is read back.
    """
    principal = info.context.viewer()
    tenant_id = principal.tenant.id
    service_id = (
        parse_id(filter.service_id, "filter.serviceId")
        if filter is not None and filter.service_id is not None
        else None
    )
    stream = runtime.current().events.subscribe(topic=TOPIC, tenant_id=str(tenant_id), after=after)
    async for event in stream:
        alert = Alert.from_snapshot(event.data["alert"])
        if filter is not None and not _matches(alert, filter, service_id):
            continue
        # Nested fields of each event get fresh loaders: cached rows must not outlive it.
        info.context.loaders = Loaders(tenant_id)
        yield AlertEvent(kind=AlertEventKind(event.kind), cursor=event.cursor, alert=alert)


def _matches(alert: Alert, where: AlertFilter, service_id: uuid.UUID | None) -> bool:
    """The filter of ``_filtered``, applied to one alert in memory."""
    if where.status and alert.status.value not in {s.value for s in where.status}:
        return False
    if where.severity and alert.severity.value not in {s.value for s in where.severity}:
        return False
    if service_id is not None and alert.service_id != service_id:
        return False
    if where.fingerprint and alert.fingerprint != where.fingerprint:
        return False
    if where.text and where.text.strip()[:200].casefold() not in alert.title.casefold():
        return False
    if where.received_after is not None and alert.last_received_at < _aware(where.received_after):
        return False
    return where.received_before is None or alert.first_received_at < _aware(where.received_before)


def _aware(moment: datetime) -> datetime:
    """A time given without an offset means UTC, as stored times do."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
