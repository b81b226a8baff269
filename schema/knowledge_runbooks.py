"""Types of runbooks: a tenant's procedures, in markdown, linked from the alerts they cover."""

from __future__ import annotations

from datetime import datetime

import strawberry

from opswatch import models
from opswatch.knowledge.runbooks import runbook_url
from schema.services import Service


@strawberry.type
class Runbook:
    id: strawberry.ID
    slug: str
    title: str
    body: str = strawberry.field(description="Markdown.")
    tags: list[str]
    alertnames: list[str] = strawberry.field(
        description="Alerts with one of these alertnames (or titles) link to this runbook."
    )
    services: list[Service] = strawberry.field(
        description="Alerts of these services link here when no runbook names them."
    )
    url: str = strawberry.field(
        description="The runbook's page; signed, so it opens without a login (Slack's button)."
    )
    updated_at: datetime

    @classmethod
    def from_model(cls, runbook: models.Runbook) -> Runbook:
        """``runbook.services`` must have been fetched."""
        tenant_id = runbook.tenant_id  # type: ignore[attr-defined]
        return cls(
            id=strawberry.ID(str(runbook.id)),
            slug=runbook.slug,
            title=runbook.title,
            body=runbook.body,
            tags=list(runbook.tags or []),
            alertnames=list(runbook.alertnames or []),
            services=[
                Service.from_model(s) for s in sorted(runbook.services, key=lambda s: s.name)
            ],
            url=runbook_url(tenant_id, runbook.slug),
            updated_at=runbook.updated_at,
        )


@strawberry.input
class RunbookInput:
    title: str
    slug: str = strawberry.field(description="Lowercase letters, digits and dashes; in the URL.")
    body: str = ""
    tags: list[str] = strawberry.field(default_factory=list)
    alertnames: list[str] = strawberry.field(default_factory=list)
    service_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input(
    description="A field left out is unchanged; null empties body, tags, alertnames or "
    "serviceIds (title and slug always have a value)."
)
class RunbookUpdate:
    title: str | None = strawberry.UNSET
    slug: str | None = strawberry.UNSET
    body: str | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    alertnames: list[str] | None = strawberry.UNSET
    service_ids: list[strawberry.ID] | None = strawberry.UNSET
