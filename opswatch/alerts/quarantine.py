"""Inbox events set aside after failing processing, and putting them back.

The pipeline quarantines an event that failed ``MAX_EVENT_ATTEMPTS`` times
(``opswatch.alerts.pipeline``). Once the cause is fixed, an admin retries it.
A retried event is processed where it stands in its fingerprint's history,
which would be wrong once something newer of that fingerprint has been
applied: a firing event applied after the alert's resolve would open it again.
Such an event is marked ``superseded`` instead of retried.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from opswatch.alerts.inbox import PROCESS_JOB
from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.models import AlertEvent, Tenant
from opswatch.queue import enqueue
from opswatch.sql import Statement

FAILED = "failed"
SUPERSEDED = "superseded"

# Something of the same fingerprint arrived after this event and was applied.
_NEWER_APPLIED = (
    "EXISTS (SELECT 1 FROM alert WHERE alert.tenant_id = alert_event.tenant_id "
    "AND alert.fingerprint = alert_event.fingerprint "
    "AND alert.last_received_at > alert_event.received_at)"
)


@dataclass(frozen=True)
class Retried:
    retried: int
    superseded: int


async def failed_events(
    *, tenant: Tenant, first: int, after: tuple[datetime, uuid.UUID] | None
) -> list[AlertEvent]:
    """The tenant's quarantined events, most recently failed first (``first`` + 1 rows,
    so the caller can tell whether a next page exists)."""
    query = AlertEvent.filter(tenant=tenant, outcome=FAILED)
    if after is not None:
        failed_at, last_id = after
        query = query.filter(
            Q(processed_at__lt=failed_at) | Q(processed_at=failed_at, id__lt=last_id)
        )
    return await query.order_by("-processed_at", "-id").limit(first + 1)


async def retry_failed(*, tenant: Tenant, ids: list[uuid.UUID] | None, actor: Actor) -> Retried:
    """Put the tenant's quarantined events (all, or those of ``ids``) back into the inbox."""
    params: dict[str, object] = {"tenant": tenant.id}
    chosen = ""
    if ids is not None:
        if not ids:
            return Retried(0, 0)
        chosen = " AND id IN (" + ", ".join(f":e{i}" for i in range(len(ids))) + ")"
        params.update({f"e{i}": event_id for i, event_id in enumerate(ids)})
    where = f"tenant_id = :tenant AND outcome = '{FAILED}'{chosen}"
    async with in_transaction() as connection:
        sql = Statement(connection)
        # Only constants and ":name" markers are interpolated; values are parameters.
        superseded = await sql.rows(
            f"UPDATE alert_event SET outcome = '{SUPERSEDED}' "  # noqa: S608
            f"WHERE {where} AND {_NEWER_APPLIED} RETURNING id",
            **params,
        )
        retried = await sql.rows(
            "UPDATE alert_event SET processed_at = NULL, outcome = NULL, attempts = 0, "  # noqa: S608
            f"error = NULL WHERE {where} RETURNING id",
            **params,
        )
        result = Retried(retried=len(retried), superseded=len(superseded))
        if result.retried or result.superseded:
            await record(
                tenant_id=tenant.id,
                actor=actor,
                action="inbox.retried",
                target_type="inbox",
                data={"retried": result.retried, "superseded": result.superseded},
                connection=connection,
            )
    if result.retried:
        await enqueue(PROCESS_JOB)
    return result
