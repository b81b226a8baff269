"""The demo tenant that ``make run`` serves: idempotent, so every start can call it."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from opswatch.audit.actor import Actor
from opswatch.escalation.policies import PolicySpec, TierSpec, create_policy
from opswatch.models import (
    Channel,
    EscalationPolicy,
    Role,
    Roster,
    RosterKind,
    Service,
    Tenant,
    User,
)
from opswatch.rosters.rosters import RosterSpec, create_roster
from opswatch.tenants.apikeys import create_api_key
from opswatch.tenants.services import create_service
from opswatch.tenants.tenants import create_tenant
from opswatch.tenants.users import create_user, issue_token

DEMO_SLUG = "demo"
GLOBAL_PRIMARY = "Global Primary"
FOLLOW_THE_SUN_START = date(2026, 1, 5)
ADMIN_EMAIL = "admin@demo.opswatch.local"

# The spec's follow-the-sun example people: APAC in Auckland, EMEA in Berlin.
RESPONDERS = [
    ("Stefan", "Pacific/Auckland", "+6421000001"),
    ("Alice", "Pacific/Auckland", "+6421000002"),
    ("Bob", "Pacific/Auckland", "+6421000003"),
    ("Hans", "Europe/Berlin", "+4915100000001"),
    ("Katja", "Europe/Berlin", "+4915100000002"),
    ("Lars", "Europe/Berlin", "+4915100000003"),
]


@dataclass(frozen=True)
class DemoCredentials:
    tenant_id: str
    user_token: str
    api_key: str


async def seed_demo(data_dir: Path) -> DemoCredentials:
    """Create what is missing of the demo tenant and return its credentials.

    The clear token and key exist only at creation, so they are kept in the
    data dir (mode 0600) beside the embedded database and its secret key.
    """
    actor = Actor.system("demo")
    tenant = await Tenant.get_or_none(slug=DEMO_SLUG)
    if tenant is None:
        tenant = await create_tenant(name="Demo", slug=DEMO_SLUG, actor=actor)
    admin = await User.get_or_none(tenant=tenant, email=ADMIN_EMAIL)
    token = None
    if admin is None:
        created = await create_user(
            tenant=tenant,
            name="Demo Admin",
            email=ADMIN_EMAIL,
            role=Role.ADMIN,
            timezone="Europe/Berlin",
            phone="+4915100000000",
            actor=actor,
        )
        admin, token = created.user, created.token
    people = {}
    for name, zone, phone in RESPONDERS:
        email = f"{name.lower()}@demo.opswatch.local"
        person = await User.get_or_none(tenant=tenant, email=email)
        if person is None:
            person = (
                await create_user(
                    tenant=tenant, name=name, email=email, timezone=zone, phone=phone, actor=actor
                )
            ).user
        people[name] = str(person.id)
    global_primary = await _seed_rosters(tenant, people, actor)
    await _seed_policy(tenant, global_primary, admin, actor)
    if not await Service.exists(tenant=tenant, name="payment-gateway"):
        await create_service(
            tenant=tenant,
            name="payment-gateway",
            cluster="production-de-01",
            namespace="customer-api",
            roster_id=str(global_primary.id),
            actor=actor,
        )

    saved = _load(data_dir, str(tenant.id))
    if saved is not None:
        return saved
    if token is None:
        token = await issue_token(user=admin, name="demo", actor=actor)
    key = await create_api_key(tenant=tenant, name="demo", actor=actor)
    credentials = DemoCredentials(tenant_id=str(tenant.id), user_token=token, api_key=key.clear)
    _save(data_dir, credentials)
    return credentials


async def _seed_policy(tenant: Tenant, roster: Roster, admin: User, actor: Actor) -> None:
    """The tenant default: whoever holds Global Primary, then the admin. In the
    embedded shape the pages go to the log (and GraphQL), not to real phones."""
    if await EscalationPolicy.exists(tenant=tenant, name="Page the on-call"):
        return
    await create_policy(
        tenant=tenant,
        actor=actor,
        spec=PolicySpec(
            name="Page the on-call",
            is_default=True,
            repeat=1,
            tiers=[
                TierSpec(
                    delay_minutes=5,
                    channels=[Channel.SLACK_DM, Channel.SMS, Channel.PHONE],
                    roster_ids=[str(roster.id)],
                ),
                TierSpec(
                    delay_minutes=10,
                    channels=[Channel.SLACK_DM, Channel.PHONE],
                    user_ids=[str(admin.id)],
                ),
            ],
        ),
    )


async def _seed_rosters(tenant: Tenant, people: dict[str, str], actor: Actor) -> Roster:
    """The spec's "Global Primary" (section 4.1) and a standard daily roster."""
    existing = await Roster.get_or_none(tenant=tenant, name=GLOBAL_PRIMARY, parent_id=None)
    if existing is not None:
        return existing
    parent = await create_roster(
        tenant=tenant,
        actor=actor,
        spec=RosterSpec(name=GLOBAL_PRIMARY, kind=RosterKind.FOLLOW_THE_SUN, timezone="UTC"),
    )
    for name, zone, members in (
        ("APAC", "Pacific/Auckland", ["Stefan", "Alice", "Bob"]),
        ("EMEA", "Europe/Berlin", ["Hans", "Katja", "Lars"]),
    ):
        await create_roster(
            tenant=tenant,
            actor=actor,
            spec=RosterSpec(
                name=name,
                timezone=zone,
                start_date=FOLLOW_THE_SUN_START,
                rotation_length_days=7,
                handoff_time="08:00",
                coverage_start="08:00",
                coverage_end="20:00",
            ),
            parent_id=str(parent.id),
            member_ids=[people[m] for m in members],
        )
    await create_roster(
        tenant=tenant,
        actor=actor,
        spec=RosterSpec(
            name="Platform Daily",
            timezone="Europe/Berlin",
            start_date=FOLLOW_THE_SUN_START,
            rotation_length_days=1,
            handoff_time="09:00",
        ),
        member_ids=[people[m] for m in ("Hans", "Katja", "Lars", "Alice")],
    )
    return parent


def _path(data_dir: Path) -> Path:
    return data_dir / "demo-credentials.json"


def _load(data_dir: Path, tenant_id: str) -> DemoCredentials | None:
    path = _path(data_dir)
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if data.get("tenant_id") != tenant_id:  # a different database: these are stale
        return None
    return DemoCredentials(**data)


def _save(data_dir: Path, credentials: DemoCredentials) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = _path(data_dir)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(credentials), handle)


SAMPLE_ALERT = {
    "version": "4",
    "groupKey": "demo",
    "status": "firing",
    "receiver": "opswatch",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "PodCrashLoopBackOff",
                "cluster": "production-de-01",
                "namespace": "customer-api",
                "pod": "payment-gateway-7f8b9c-xyz",
                "severity": "critical",
            },
            "annotations": {"summary": "Pod is in CrashLoopBackOff"},
            "startsAt": "2026-02-20T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "abc123def456",
        }
    ],
}


def banner(credentials: DemoCredentials, base_url: str, *, serving: bool) -> str:
    """What to do with the demo tenant. ``serving``: this process is about to serve it;
    otherwise (``opswatch demo``) only the database was seeded."""
    viewer_query = json.dumps({"query": "{ viewer { name tenant { name } } }"})
    if serving:
        headline = f"OpsWatch is serving the demo tenant at {base_url}"
    else:
        headline = (
            "The demo tenant is seeded. No server was started: run `opswatch serve`\n"
            f"(or `make run`), then, once it serves {base_url}:"
        )
    return f"""
{headline}
  GraphiQL:       {base_url}/graphql
  User token:     {credentials.user_token}
    (GraphiQL headers: {{"Authorization": "Bearer {credentials.user_token}"}})
  Webhook key:    {credentials.api_key}

Send an alert the way Alertmanager does:
  curl -sS -X POST {base_url}/api/v1/webhooks/alertmanager \\
    -H 'X-API-Key: {credentials.api_key}' -H 'Content-Type: application/json' \\
    -d '{json.dumps(SAMPLE_ALERT, separators=(",", ":"))}'

Ask who you are:
  curl -sS {base_url}/graphql -H 'Authorization: Bearer {credentials.user_token}' \\
    -H 'Content-Type: application/json' -d '{viewer_query}'
"""
