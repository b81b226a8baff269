"""Resolvers of runbooks: everyone in the tenant reads them, admins write them."""

from __future__ import annotations

import strawberry

from opswatch import models
from opswatch.knowledge import runbooks as runbook_ops
from resolvers.context import Info
from resolvers.ids import id_text, id_texts
from resolvers.ids import slug as parse_slug
from resolvers.partial import given
from schema.knowledge_runbooks import Runbook, RunbookInput, RunbookUpdate

MAX_RUNBOOKS = 1000


def _spec(input: RunbookInput) -> runbook_ops.RunbookSpec:
    return runbook_ops.RunbookSpec(
        title=input.title,
        slug=input.slug,
        body=input.body,
        tags=list(input.tags),
        alertnames=list(input.alertnames),
        service_ids=id_texts(input.service_ids, "serviceIds", indexed=False),
    )


async def _loaded(runbook: models.Runbook) -> Runbook:
    await runbook.fetch_related("services")
    return Runbook.from_model(runbook)


async def runbooks(info: Info) -> list[Runbook]:
    principal = info.context.viewer()
    rows = (
        await models.Runbook.filter(tenant=principal.tenant)
        .order_by("title", "id")
        .limit(MAX_RUNBOOKS)
        .prefetch_related("services")
    )
    return [Runbook.from_model(row) for row in rows]


async def runbook(info: Info, slug: str) -> Runbook | None:
    principal = info.context.viewer()
    row = await models.Runbook.get_or_none(tenant=principal.tenant, slug=parse_slug(slug))
    return await _loaded(row) if row is not None else None


async def create_runbook(info: Info, input: RunbookInput) -> Runbook:
    principal = info.context.viewer(models.Role.ADMIN)
    created = await runbook_ops.create_runbook(
        tenant=principal.tenant, spec=_spec(input), actor=principal.actor("graphql")
    )
    return await _loaded(created)


# What null empties: these have an empty value, unlike the title and the slug.
_EMPTIED_BY_NULL: dict[str, object] = {"body": "", "tags": [], "alertnames": [], "service_ids": []}


async def update_runbook(info: Info, id: strawberry.ID, input: RunbookUpdate) -> Runbook:
    """Only the fields given change; ``serviceIds`` given replaces the whole list."""
    principal = info.context.viewer(models.Role.ADMIN)
    changes = given(input, required=["title", "slug"])
    for name, empty in _EMPTIED_BY_NULL.items():
        if name in changes and changes[name] is None:
            changes[name] = empty
    if "service_ids" in changes:
        changes["service_ids"] = id_texts(changes["service_ids"], "serviceIds", indexed=False)
    row = await runbook_ops.get_runbook(principal.tenant, id_text(id))
    updated = await runbook_ops.change_runbook(
        tenant=principal.tenant, runbook=row, changes=changes, actor=principal.actor("graphql")
    )
    return await _loaded(updated)


async def delete_runbook(info: Info, id: strawberry.ID) -> strawberry.ID:
    principal = info.context.viewer(models.Role.ADMIN)
    row = await runbook_ops.get_runbook(principal.tenant, id_text(id))
    await runbook_ops.delete_runbook(
        tenant=principal.tenant, runbook=row, actor=principal.actor("graphql")
    )
    return id
