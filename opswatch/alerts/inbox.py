"""The inbox: received alert events, made durable before the sender hears 2xx."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from opswatch.alerts.normalize import NormalizedEvent
from opswatch.models import AlertEvent, ApiKey, Tenant
from opswatch.queue import enqueue

PROCESS_JOB = "alerts.process_events"
# One job per this many events: the pipeline works in batches.
BATCH_SIZE = 100


async def accept(
    *,
    tenant: Tenant,
    api_key: ApiKey | None,
    events: Sequence[NormalizedEvent],
    raw: Any,
) -> list[uuid.UUID]:
    """Write every event in one transaction, then enqueue their processing.

    If enqueueing fails after the commit, nothing is lost: the sweeper picks up
    inbox rows that stay unprocessed.
    """
    received_at = datetime.now(UTC)
    rows = [
        AlertEvent(
            id=uuid.uuid4(),
            tenant=tenant,
            api_key=api_key,
            source_format=event.source_format,
            fingerprint=event.fingerprint,
            status=event.status.value if event.status else "ignored",
            normalized=event.to_json(),
            payload=raw_part(raw, index),
            # A microsecond apart, so the order of a request survives in the inbox.
            received_at=received_at + timedelta(microseconds=index),
        )
        for index, event in enumerate(events)
    ]
    async with in_transaction() as connection:
        await AlertEvent.bulk_create(rows, using_db=connection)
    ids = [row.id for row in rows]
    for start in range(0, len(ids), BATCH_SIZE):
        await enqueue(PROCESS_JOB, event_ids=[str(i) for i in ids[start : start + BATCH_SIZE]])
    return ids


def raw_part(raw: Any, index: int) -> dict[str, Any]:
    """The sender's JSON for one event, so a 100-alert group is not stored 100 times."""
    if isinstance(raw, list):
        item = raw[index]
        return item if isinstance(item, dict) else {"value": item}
    if isinstance(raw, dict) and isinstance(raw.get("alerts"), list):
        envelope = {key: value for key, value in raw.items() if key != "alerts"}
        return {**envelope, "alerts": [raw["alerts"][index]]}
    return raw if isinstance(raw, dict) else {"value": raw}
