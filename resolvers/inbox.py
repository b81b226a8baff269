"""Resolvers of the alert inbox (admins only): quarantined events, and retrying them."""

from __future__ import annotations

import uuid

import strawberry

from opswatch import models
from opswatch.alerts.quarantine import failed_events as list_failed
from opswatch.alerts.quarantine import retry_failed
from opswatch.errors import InvalidInput
from resolvers.context import Info
from resolvers.cursors import after_keyset, keyset_cursor
from schema.inbox import (
    FailedEvent,
    FailedEventConnection,
    FailedEventEdge,
    FailedEventPageInfo,
    RetriedEvents,
)

DEFAULT_PAGE = 50
MAX_PAGE = 200
MAX_RETRY_IDS = 1_000


def _cursor(row: models.AlertEvent) -> str:
    assert row.processed_at is not None  # a quarantined event is processed, as failed
    return keyset_cursor(row.processed_at, row.id)


async def failed_events(
    info: Info, first: int | None = DEFAULT_PAGE, after: str | None = None
) -> FailedEventConnection:
    """Most recently failed first, keyset-paged."""
    principal = info.context.viewer(models.Role.ADMIN)
    size = DEFAULT_PAGE if first is None else first
    if not 1 <= size <= MAX_PAGE:
        raise InvalidInput(f"first must be between 1 and {MAX_PAGE}", field="first")
    rows = await list_failed(
        tenant=principal.tenant, first=size, after=after_keyset(after) if after else None
    )
    edges = [
        FailedEventEdge(cursor=_cursor(row), node=FailedEvent.from_model(row))
        for row in rows[:size]
    ]
    return FailedEventConnection(
        edges=edges,
        page_info=FailedEventPageInfo(
            has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None
        ),
    )


async def retry_failed_events(
    info: Info,
    ids: list[strawberry.ID] | None = strawberry.UNSET,
) -> RetriedEvents:
    """Retry the quarantined events ``ids``, or every one of the tenant's when omitted."""
    principal = info.context.viewer(models.Role.ADMIN)
    chosen: list[uuid.UUID] | None = None
    if ids is not None and ids is not strawberry.UNSET:
        if len(ids) > MAX_RETRY_IDS:
            raise InvalidInput(f"ids may name at most {MAX_RETRY_IDS} events", field="ids")
        chosen = [_event_id(raw, index) for index, raw in enumerate(ids)]
    result = await retry_failed(
        tenant=principal.tenant, ids=chosen, actor=principal.actor("graphql")
    )
    return RetriedEvents(retried=result.retried, superseded=result.superseded)


def _event_id(raw: str, index: int) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise InvalidInput("not an event id", field=f"ids[{index}]") from None
