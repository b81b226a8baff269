"""Types of the alert inbox: events quarantined after failing processing."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from opswatch import models


@strawberry.type(description="An inbox event set aside after failing processing again and again.")
class FailedEvent:
    id: strawberry.ID
    received_at: datetime
    failed_at: datetime | None
    source_format: str
    fingerprint: str
    attempts: int
    error: str | None = strawberry.field(description="The error of the last failed attempt.")
    payload: JSON = strawberry.field(description="The sender's JSON for this one event.")

    @classmethod
    def from_model(cls, row: models.AlertEvent) -> FailedEvent:
        return cls(
            id=strawberry.ID(str(row.id)),
            received_at=row.received_at,
            failed_at=row.processed_at,
            source_format=row.source_format.value,
            fingerprint=row.fingerprint,
            attempts=row.attempts,
            error=row.error,
            payload=cast(JSON, row.payload),
        )


@strawberry.type
class FailedEventEdge:
    cursor: str
    node: FailedEvent


@strawberry.type
class FailedEventPageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class FailedEventConnection:
    edges: list[FailedEventEdge]
    page_info: FailedEventPageInfo


@strawberry.type
class RetriedEvents:
    retried: int = strawberry.field(description="Put back into the inbox, to be processed again.")
    superseded: int = strawberry.field(
        description="Not retried: something newer of the same fingerprint was applied since."
    )
