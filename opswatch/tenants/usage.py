"""Last-used times for keys and tokens, recorded off the request path.

Writing a row on every webhook would double the database work of ingest, so
each process notes a credential at most once a minute and a job writes it.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from opswatch.models import ApiKey, UserToken
from opswatch.queue.failures import enqueue_or_warn

NOTE_EVERY_SECONDS = 60.0
_last_noted: dict[tuple[str, uuid.UUID], float] = {}


async def note_used(kind: str, credential_id: uuid.UUID) -> None:
    now = time.monotonic()
    key = (kind, credential_id)
    if now - _last_noted.get(key, -NOTE_EVERY_SECONDS) < NOTE_EVERY_SECONDS:
        return
    _last_noted[key] = now
    # A last-used time is worth no failed request: with Redis down, the webhook
    # (its events go to the inbox, not the queue) must still answer.
    await enqueue_or_warn(
        "tenants.mark_credential_used",
        consequence="its last-used time is noted at its next use",
        kind=kind,
        credential_id=str(credential_id),
        used_at=datetime.now(UTC).isoformat(),
    )


async def mark_credential_used(*, kind: str, credential_id: str, used_at: str) -> int:
    """Move last_used_at forward only, so a late or repeated job never moves it back."""
    model = ApiKey if kind == "api_key" else UserToken
    at = datetime.fromisoformat(used_at)
    newer = model.filter(id=uuid.UUID(credential_id)).filter(last_used_at__lt=at)
    never = model.filter(id=uuid.UUID(credential_id), last_used_at__isnull=True)
    return await newer.update(last_used_at=at) + await never.update(last_used_at=at)
