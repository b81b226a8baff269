"""Building tenants the way an operator would: through the service functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from opswatch.audit.actor import Actor
from opswatch.models import Role, Tenant, User
from opswatch.tenants.apikeys import create_api_key
from opswatch.tenants.tenants import create_tenant
from opswatch.tenants.users import create_user


@dataclass
class TenantKit:
    tenant: Tenant
    admin: User
    admin_token: str
    viewer: User
    viewer_token: str
    api_key: str


async def make_tenant(name: str) -> TenantKit:
    actor = Actor.system("test")
    tenant = await create_tenant(name=name, slug=None, actor=actor)
    domain = f"{tenant.slug}.example"
    admin = await create_user(
        tenant=tenant, name=f"{name} Admin", email=f"admin@{domain}", role=Role.ADMIN, actor=actor
    )
    viewer = await create_user(
        tenant=tenant,
        name=f"{name} Viewer",
        email=f"viewer@{domain}",
        role=Role.VIEWER,
        actor=actor,
    )
    key = await create_api_key(tenant=tenant, name="monitoring", actor=actor)
    assert admin.token
    assert viewer.token
    return TenantKit(
        tenant=tenant,
        admin=admin.user,
        admin_token=admin.token,
        viewer=viewer.user,
        viewer_token=viewer.token,
        api_key=key.clear,
    )


async def graphql(
    client: httpx.AsyncClient, token: str | None, query: str, **variables: Any
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
