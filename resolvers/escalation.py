"""Resolvers of the escalation domain."""

from __future__ import annotations

import strawberry

from opswatch import models
from opswatch.errors import InvalidInput
from opswatch.escalation import policies as policy_ops
from resolvers.context import Info
from resolvers.ids import id_text, id_texts, optional_id_text
from resolvers.partial import given
from schema.escalation import (
    EscalationPolicy,
    EscalationPolicyInput,
    EscalationPolicyUpdate,
    EscalationTierInput,
)
from schema.services import Service

MAX_POLICIES = 500


def _minimum(raw: str | None) -> models.Severity | None:
    if raw is None:
        return None
    try:
        return models.Severity(raw.lower())
    except ValueError:
        allowed = ", ".join(s.value for s in models.Severity)
        raise InvalidInput(
            f"minimumSeverity must be one of {allowed}", field="minimumSeverity"
        ) from None


def _tiers(tiers: list[EscalationTierInput]) -> list[policy_ops.TierSpec]:
    return [
        policy_ops.TierSpec(
            delay_minutes=t.delay_minutes,
            channels=[models.Channel(c.value) for c in t.channels],
            roster_ids=id_texts(t.roster_ids, f"tiers[{n}].rosterIds"),
            user_ids=id_texts(t.user_ids, f"tiers[{n}].userIds"),
        )
        for n, t in enumerate(tiers)
    ]


def _spec(input: EscalationPolicyInput) -> policy_ops.PolicySpec:
    return policy_ops.PolicySpec(
        name=input.name,
        repeat=input.repeat,
        minimum_severity=_minimum(input.minimum_severity),
        is_default=input.is_default,
        tiers=_tiers(input.tiers),
    )


async def _loaded(policy: models.EscalationPolicy) -> EscalationPolicy:
    await policy.fetch_related("tiers", "tiers__rosters", "tiers__users")
    return EscalationPolicy.from_model(policy)


async def escalation_policies(info: Info) -> list[EscalationPolicy]:
    principal = info.context.viewer()
    rows = (
        await models.EscalationPolicy.filter(tenant=principal.tenant)
        .order_by("name")
        .limit(MAX_POLICIES)
        .prefetch_related("tiers", "tiers__rosters", "tiers__users")
    )
    return [EscalationPolicy.from_model(row) for row in rows]


async def create_escalation_policy(info: Info, input: EscalationPolicyInput) -> EscalationPolicy:
    principal = info.context.viewer(models.Role.ADMIN)
    policy = await policy_ops.create_policy(
        tenant=principal.tenant, spec=_spec(input), actor=principal.actor("graphql")
    )
    return await _loaded(policy)


async def update_escalation_policy(
    info: Info, id: strawberry.ID, input: EscalationPolicyUpdate
) -> EscalationPolicy:
    """Only the settings given change; ``tiers`` given replaces the whole list."""
    principal = info.context.viewer(models.Role.ADMIN)
    changes = given(input, required=["name", "tiers", "repeat", "is_default"])
    if "minimum_severity" in changes:
        changes["minimum_severity"] = _minimum(changes["minimum_severity"])
    if "tiers" in changes:
        changes["tiers"] = _tiers(changes["tiers"])
    policy = await policy_ops.get_policy(principal.tenant, id_text(id))
    policy = await policy_ops.change_policy(
        tenant=principal.tenant, policy=policy, changes=changes, actor=principal.actor("graphql")
    )
    return await _loaded(policy)


async def delete_escalation_policy(info: Info, id: strawberry.ID) -> strawberry.ID:
    principal = info.context.viewer(models.Role.ADMIN)
    policy = await policy_ops.get_policy(principal.tenant, id_text(id))
    await policy_ops.delete_policy(
        tenant=principal.tenant, policy=policy, actor=principal.actor("graphql")
    )
    return id


async def assign_escalation_policy(
    info: Info, service_id: strawberry.ID, policy_id: strawberry.ID | None = None
) -> Service:
    principal = info.context.viewer(models.Role.ADMIN)
    service = await policy_ops.assign_policy(
        tenant=principal.tenant,
        service_id=id_text(service_id, "serviceId"),
        policy_id=optional_id_text(policy_id, "policyId"),
        actor=principal.actor("graphql"),
    )
    return Service.from_model(service)
