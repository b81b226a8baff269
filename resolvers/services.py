"""Resolvers of the services domain."""

from __future__ import annotations

import strawberry

from opswatch import models
from opswatch.tenants import services as service_ops
from resolvers.context import Info
from resolvers.ids import id_text, optional_id_text
from resolvers.partial import given
from schema.services import Service, ServiceInput, ServiceUpdate


async def services(info: Info) -> list[Service]:
    principal = info.context.viewer()
    rows = await models.Service.filter(tenant=principal.tenant).order_by("name").limit(1000)
    return [Service.from_model(row) for row in rows]


async def create_service(info: Info, input: ServiceInput) -> Service:
    principal = info.context.viewer(models.Role.ADMIN)
    service = await service_ops.create_service(
        tenant=principal.tenant,
        name=input.name,
        cluster=input.cluster,
        namespace=input.namespace,
        roster_id=optional_id_text(input.roster_id, "rosterId"),
        escalation_policy_id=optional_id_text(input.escalation_policy_id, "escalationPolicyId"),
        slack_channel=input.slack_channel,
        actor=principal.actor("graphql"),
    )
    return Service.from_model(service)


async def update_service(info: Info, id: strawberry.ID, input: ServiceUpdate) -> Service:
    """Only the fields given change; null clears any of them but ``name``."""
    principal = info.context.viewer(models.Role.ADMIN)
    changes = given(input, required=["name"])
    # Malformed ids are the client's mistake, refused before any query.
    for column in ("roster_id", "escalation_policy_id"):
        if column in changes:
            changes[column] = optional_id_text(changes[column], service_ops.CHANGEABLE[column])
    row = await service_ops.get_service(principal.tenant, id_text(id))
    row = await service_ops.update_service(
        tenant=principal.tenant, service=row, changes=changes, actor=principal.actor("graphql")
    )
    return Service.from_model(row)


async def delete_service(info: Info, id: strawberry.ID) -> strawberry.ID:
    """Its alerts are kept and show no service afterwards."""
    principal = info.context.viewer(models.Role.ADMIN)
    row = await service_ops.get_service(principal.tenant, id_text(id))
    await service_ops.delete_service(
        tenant=principal.tenant, service=row, actor=principal.actor("graphql")
    )
    return id
