"""Services: what an alert belongs to, matched by its cluster and namespace labels."""

from __future__ import annotations

from typing import TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from opswatch import validation
from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.errors import Conflict
from opswatch.models import EscalationPolicy, Roster, Service, Tenant
from opswatch.tenants.owned import get_owned

OwnedModel = TypeVar("OwnedModel", Roster, EscalationPolicy)


async def create_service(
    *,
    tenant: Tenant,
    name: str,
    actor: Actor,
    cluster: str | None = None,
    namespace: str | None = None,
    roster_id: str | None = None,
    escalation_policy_id: str | None = None,
    slack_channel: str | None = None,
) -> Service:
    name = validation.required_text("name", name, max_length=200)
    roster = await _owned(Roster, tenant, "rosterId", roster_id)
    policy = await _owned(EscalationPolicy, tenant, "escalationPolicyId", escalation_policy_id)
    try:
        async with in_transaction() as connection:
            service = await Service.create(
                tenant=tenant,
                name=name,
                cluster=validation.optional_text("cluster", cluster, max_length=200),
                namespace=validation.optional_text("namespace", namespace, max_length=200),
                roster=roster,
                escalation_policy=policy,
                slack_channel=validation.optional_text(
                    "slackChannel", slack_channel, max_length=64
                ),
                using_db=connection,
            )
            await record(
                tenant_id=tenant.id,
                actor=actor,
                action="service.created",
                target_type="service",
                target_id=service.id,
                data={"name": name, "cluster": service.cluster, "namespace": service.namespace},
                connection=connection,
            )
    except IntegrityError:
        raise Conflict(f"a service named {name!r} already exists", field="name") from None
    return service


async def _owned(
    model: type[OwnedModel], tenant: Tenant, field: str, raw_id: str | None
) -> OwnedModel | None:
    """A referenced row of this tenant, or None when none is referenced."""
    return None if raw_id is None else await get_owned(model, tenant, raw_id, field)
