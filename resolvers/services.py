"""Resolvers of the services domain."""

from __future__ import annotations

from opswatch import models
from opswatch.tenants import services as service_ops
from resolvers.context import Info
from resolvers.ids import optional_id_text
from schema.services import Service, ServiceInput


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
