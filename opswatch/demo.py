"""The demo tenant that ``make run`` serves: idempotent, so every start can call it."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from opswatch.audit.actor import Actor
from opswatch.models import Role, Service, Tenant, User
from opswatch.tenants.apikeys import create_api_key
from opswatch.tenants.services import create_service
from opswatch.tenants.tenants import create_tenant
from opswatch.tenants.users import create_user, issue_token

DEMO_SLUG = "demo"
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
    saved = _load(data_dir, str(tenant.id))
    if saved is not None:
        return saved

    admin = await User.get_or_none(tenant=tenant, email=ADMIN_EMAIL)
    if admin is None:
        created = await create_user(
            tenant=tenant,
            name="Demo Admin",
            email=ADMIN_EMAIL,
            role=Role.ADMIN,
            timezone="Europe/Berlin",
            actor=actor,
        )
        admin, token = created.user, created.token
    else:
        token = await issue_token(user=admin, name="demo", actor=actor)
    assert token is not None
    for name, zone, phone in RESPONDERS:
        email = f"{name.lower()}@demo.opswatch.local"
        if not await User.exists(tenant=tenant, email=email):
            await create_user(
                tenant=tenant, name=name, email=email, timezone=zone, phone=phone, actor=actor
            )
    if not await Service.exists(tenant=tenant, name="payment-gateway"):
        await create_service(
            tenant=tenant,
            name="payment-gateway",
            cluster="production-de-01",
            namespace="customer-api",
            actor=actor,
        )
    key = await create_api_key(tenant=tenant, name="demo", actor=actor)
    credentials = DemoCredentials(tenant_id=str(tenant.id), user_token=token, api_key=key.clear)
    _save(data_dir, credentials)
    return credentials


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


def banner(credentials: DemoCredentials, base_url: str) -> str:
    viewer_query = json.dumps({"query": "{ viewer { name tenant { name } } }"})
    return f"""
OpsWatch is serving the demo tenant at {base_url}
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
