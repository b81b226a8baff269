"""Set-up: a tenant, people with their rosters, policies and services, and the alerts."""

from __future__ import annotations

import argparse
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from opswatch.alerts.shortid import new_short_id
from opswatch.config import Settings
from opswatch.crypto import SecretBox
from opswatch.escalation.policies import (
    PolicySpec,
    TierSpec,
    assign_policy,
    create_policy,
)
from opswatch.models import (
    Alert,
    AlertSourceFormat,
    AlertStatus,
    Channel,
    EscalationState,
    Service,
    Severity,
    Tenant,
    User,
)
from opswatch.rosters.rosters import RosterSpec, create_roster
from opswatch.tenants.services import create_service
from opswatch.tenants.telephony import TelephonyConfig, configure_telephony
from opswatch.tenants.tenants import create_tenant
from opswatch.tenants.users import create_user
from tests.fakes.twilio import FakeTwilio

from .base import ACTOR, FROM_NUMBER


@dataclass(frozen=True)
class Person:
    user: User
    service: Service
    policy_id: uuid.UUID


async def bench_tenant(settings: Settings, fake: FakeTwilio) -> Tenant:
    tenant = await create_tenant(name="OpsWatch escalation bench", slug=None, actor=ACTOR)
    sid, token = fake.add_account()
    return await configure_telephony(
        tenant=tenant,
        box=SecretBox(settings.secret_keys),
        config=TelephonyConfig(
            "twilio", FROM_NUMBER, {"twilio_account_sid": sid, "twilio_auth_token": token}
        ),
        actor=ACTOR,
    )


async def create_person(tenant: Tenant, number: int) -> Person:
    """One person with their own roster, two-tier policy and service."""
    name = f"Person {number:03d}"
    created = await create_user(
        tenant=tenant,
        name=name,
        email=f"person{number:03d}@bench.example",
        phone=f"+49151{number:08d}",
        actor=ACTOR,
        with_token=False,
    )
    user = created.user
    roster = await create_roster(
        tenant=tenant,
        actor=ACTOR,
        spec=RosterSpec(
            name=f"Roster {number:03d}",
            timezone="UTC",
            start_date=date.today() - timedelta(weeks=2),
            rotation_length_days=7,
            handoff_time="09:00",
        ),
        member_ids=[str(user.id)],
    )
    channels = [Channel.PHONE, Channel.SMS]
    rosters = [str(roster.id)]
    policy = await create_policy(
        tenant=tenant,
        actor=ACTOR,
        spec=PolicySpec(
            name=f"Policy {number:03d}",
            tiers=[
                TierSpec(delay_minutes=5, channels=channels, roster_ids=rosters),
                TierSpec(delay_minutes=10, channels=channels, roster_ids=rosters),
            ],
        ),
    )
    service = await create_service(
        tenant=tenant,
        name=f"service-{number:03d}",
        cluster=f"cluster-{number:03d}",
        namespace=f"namespace-{number:03d}",
        actor=ACTOR,
    )
    service = await assign_policy(
        tenant=tenant, service_id=str(service.id), policy_id=str(policy.id), actor=ACTOR
    )
    return Person(user, service, policy.id)


def distinct_short_ids(count: int) -> list[str]:
    drawn: set[str] = set()
    while len(drawn) < count:
        drawn.add(new_short_id())
    return list(drawn)


def firing_alert(tenant: Tenant, person: Person, index: int, short_id: str, due: datetime) -> Alert:
    """An alert as the pipeline opens it under a policy: escalation active, tier 1 due."""
    service = person.service
    return Alert(
        id=uuid.uuid4(),
        tenant=tenant,
        fingerprint=f"bench-{index:05d}",
        short_id=short_id,
        title="PodCrashLoopBackOff",
        severity=Severity.CRITICAL,
        status=AlertStatus.FIRING,
        source="bench",
        source_format=AlertSourceFormat.GENERIC,
        labels={"cluster": service.cluster, "namespace": service.namespace},
        first_received_at=due,
        last_received_at=due,
        service_id=service.id,
        oncall_user_id=person.user.id,
        escalation_policy_id=person.policy_id,
        escalation_state=EscalationState.ACTIVE,
        escalation_tier=0,
        escalation_cycle=0,
        escalation_next_at=due,
        created_at=due,
    )


async def insert_alerts(tenant: Tenant, people: list[Person], count: int) -> list[uuid.UUID]:
    """``count`` alerts, alert i on person i mod len(people)'s service, all due now."""
    due = datetime.now(UTC)
    short_ids = distinct_short_ids(count)
    alerts = [
        firing_alert(tenant, people[i % len(people)], i, short_ids[i], due) for i in range(count)
    ]
    await Alert.bulk_create(alerts, batch_size=500)
    return [a.id for a in alerts]


async def seed(settings: Settings, fake: FakeTwilio, args: argparse.Namespace) -> list[uuid.UUID]:
    tenant = await bench_tenant(settings, fake)
    people = [await create_person(tenant, n) for n in range(1, args.people + 1)]
    return await insert_alerts(tenant, people, args.alerts)
