"""Services: what an alert belongs to, matched by its cluster and namespace labels."""

from __future__ import annotations

from typing import Any, TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from opswatch import validation
from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.errors import Conflict
from opswatch.models import Alert, EscalationPolicy, Roster, Service, Tenant
from opswatch.tenants.owned import get_owned

OwnedModel = TypeVar("OwnedModel", Roster, EscalationPolicy)

# Columns a change may name (Python names), and how clients spell each in errors.
CHANGEABLE = {
    "name": "name",
    "cluster": "cluster",
    "namespace": "namespace",
    "roster_id": "rosterId",
    "escalation_policy_id": "escalationPolicyId",
    "slack_channel": "slackChannel",
}
_TEXT_LIMITS = {"cluster": 200, "namespace": 200, "slack_channel": 64}


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


async def get_service(tenant: Tenant, service_id: str, field: str = "id") -> Service:
    return await get_owned(Service, tenant, service_id, field, "service")


async def update_service(
    *, tenant: Tenant, service: Service, changes: dict[str, Any], actor: Actor
) -> Service:
    """Apply only the fields in ``changes`` (Python names; None clears a nullable one),
    all validated before anything is written; the audit entry keeps before and after."""
    unknown = set(changes) - set(CHANGEABLE)
    if unknown:
        raise ValueError(f"not a service field: {sorted(unknown)}")  # a programming error
    values = await _checked_changes(tenant, changes)
    before = {column: _plain(getattr(service, column)) for column in values}
    after = {column: _plain(value) for column, value in values.items()}
    try:
        async with in_transaction() as connection:
            if values:
                await Service.filter(id=service.id).using_db(connection).update(**values)
            await record(
                tenant_id=tenant.id,
                actor=actor,
                action="service.updated",
                target_type="service",
                target_id=service.id,
                data={"before": before, "after": after},
                connection=connection,
            )
    except IntegrityError:
        raise Conflict(
            f"a service named {values.get('name', service.name)!r} already exists", field="name"
        ) from None
    await service.refresh_from_db()
    return service


async def delete_service(*, tenant: Tenant, service: Service, actor: Actor) -> None:
    """The service goes; its alerts stay, with no service (the foreign key is SET NULL),
    and runbooks simply stop listing it."""
    async with in_transaction() as connection:
        kept = await Alert.filter(service_id=service.id).using_db(connection).count()
        await Service.filter(id=service.id, tenant=tenant).using_db(connection).delete()
        await record(
            tenant_id=tenant.id,
            actor=actor,
            action="service.deleted",
            target_type="service",
            target_id=service.id,
            data={
                "before": {
                    "name": service.name,
                    "cluster": service.cluster,
                    "namespace": service.namespace,
                },
                "alerts_kept": kept,
            },
            connection=connection,
        )


async def _checked_changes(tenant: Tenant, changes: dict[str, Any]) -> dict[str, Any]:
    """The columns to write, each change validated; references must be this tenant's."""
    values: dict[str, Any] = {}
    for column, value in changes.items():
        field = CHANGEABLE[column]
        if column == "name":
            values["name"] = validation.required_text(field, value, max_length=200)
        elif column == "roster_id":
            roster = await _owned(Roster, tenant, field, value)
            values["roster_id"] = roster.id if roster else None
        elif column == "escalation_policy_id":
            policy = await _owned(EscalationPolicy, tenant, field, value)
            values["escalation_policy_id"] = policy.id if policy else None
        else:
            values[column] = validation.optional_text(field, value, max_length=_TEXT_LIMITS[column])
    return values


def _plain(value: object) -> object:
    return None if value is None else value if isinstance(value, str) else str(value)
