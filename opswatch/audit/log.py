"""Writing audit entries, always in the transaction of the change they describe."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from opswatch.audit.actor import Actor
from opswatch.models import AuditLog


async def record(
    *,
    tenant_id: uuid.UUID | None,
    actor: Actor,
    action: str,
    target_type: str | None = None,
    target_id: uuid.UUID | str | None = None,
    data: dict[str, Any] | None = None,
    connection: BaseDBAsyncClient | None = None,
) -> AuditLog:
    return await AuditLog.create(
        tenant_id=tenant_id,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        source=actor.source,
        data=data or {},
        created_at=datetime.now(UTC),
        using_db=connection,
    )
