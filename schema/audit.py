"""Types of the audit domain: who changed what, when, and through which surface."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from opswatch import models


@strawberry.type
class AuditEntry:
    id: strawberry.ID
    actor_type: str = strawberry.field(
        description="user, api_key, slack_user, phone, agent or system."
    )
    actor_id: str | None
    actor_name: str | None
    action: str = strawberry.field(description='e.g. "alert.acknowledged".')
    target_type: str | None
    target_id: str | None
    source: str = strawberry.field(
        description="graphql, rest, webhook, slack, phone, sms, cli or system."
    )
    data: JSON = strawberry.field(description="Before and after of what changed, and context.")
    created_at: datetime

    @classmethod
    def from_model(cls, row: models.AuditLog) -> AuditEntry:
        return cls(
            id=strawberry.ID(str(row.id)),
            actor_type=row.actor_type.value,
            actor_id=row.actor_id,
            actor_name=row.actor_name,
            action=row.action,
            target_type=row.target_type,
            target_id=row.target_id,
            source=row.source,
            data=cast(JSON, row.data),
            created_at=row.created_at,
        )


@strawberry.type
class AuditEdge:
    cursor: str
    node: AuditEntry


@strawberry.type
class AuditPageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class AuditConnection:
    edges: list[AuditEdge]
    page_info: AuditPageInfo


@strawberry.input
class AuditFilter:
    actor_type: str | None = None
    actor_id: str | None = None
    action: str | None = strawberry.field(
        default=None, description='An action, or a prefix ending in "." such as "alert.".'
    )
    target_type: str | None = None
    target_id: str | None = None
    after_time: datetime | None = None
    before_time: datetime | None = None
