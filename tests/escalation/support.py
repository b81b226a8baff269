"""Building escalation set-ups through the service functions and sending alerts by webhook."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from opswatch.audit.actor import Actor
from opswatch.escalation.policies import PolicySpec, TierSpec, assign_policy, create_policy
from opswatch.models import Alert, Channel, EscalationPolicy, Roster, Service, User
from opswatch.queue.inprocess import InProcessQueue
from opswatch.rosters.rosters import RosterSpec, create_roster
from opswatch.runtime import Runtime
from opswatch.tenants.services import create_service
from opswatch.tenants.users import create_user
from tests.factories import TenantKit

ACTOR = Actor.system("test")


@dataclass
class Setup:
    policy: EscalationPolicy
    service: Service
    roster: Roster
    primary: User  # on call in the roster
    manager: User  # tier 2, by name


async def person(kit: TenantKit, name: str, phone: str | None) -> User:
    created = await create_user(
        tenant=kit.tenant,
        name=name,
        email=f"{name.lower()}@{kit.tenant.slug}.example",
        phone=phone,
        actor=ACTOR,
        with_token=False,
    )
    return created.user


async def two_tier_policy(
    kit: TenantKit,
    *,
    channels: list[Channel] | None = None,
    repeat: int = 0,
    members: bool = True,
) -> Setup:
    """Tier 1: whoever is on call for "Primary" (5 min); tier 2: the manager (10 min)."""
    primary = await person(kit, "Pat", "+4915100000001")
    manager = await person(kit, "Morgan", "+4915100000002")
    roster = await create_roster(
        tenant=kit.tenant,
        actor=ACTOR,
        spec=RosterSpec(name="Primary", timezone="UTC", rotation_length_days=7),
        member_ids=[str(primary.id)] if members else [],
    )
    chosen = channels or [Channel.PHONE, Channel.SMS]
    policy = await create_policy(
        tenant=kit.tenant,
        actor=ACTOR,
        spec=PolicySpec(
            name="Default",
            repeat=repeat,
            tiers=[
                TierSpec(delay_minutes=5, channels=chosen, roster_ids=[str(roster.id)]),
                TierSpec(delay_minutes=10, channels=chosen, user_ids=[str(manager.id)]),
            ],
        ),
    )
    service = await create_service(
        tenant=kit.tenant,
        name="payment-gateway",
        cluster="production-de-01",
        namespace="customer-api",
        actor=ACTOR,
    )
    await assign_policy(
        tenant=kit.tenant, service_id=str(service.id), policy_id=str(policy.id), actor=ACTOR
    )
    return Setup(policy, service, roster, primary, manager)


async def fire(
    client: httpx.AsyncClient,
    kit: TenantKit,
    runtime: Runtime,
    fingerprint: str = "crashloop",
    severity: str = "critical",
) -> Alert:
    response = await client.post(
        "/api/v1/webhooks/generic",
        json={
            "title": "PodCrashLoopBackOff",
            "fingerprint": fingerprint,
            "severity": severity,
            "labels": {"cluster": "production-de-01", "namespace": "customer-api"},
        },
        headers={"X-API-Key": kit.api_key},
    )
    assert response.status_code == 202, response.text
    await settle(runtime)
    return await Alert.get(tenant=kit.tenant, fingerprint=fingerprint)


async def settle(runtime: Runtime) -> None:
    """Wait for every job started so far (and the jobs they start) to finish."""
    assert isinstance(runtime.queue, InProcessQueue)
    await runtime.queue.drain(delayed=False)
