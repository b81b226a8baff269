"""Creating tenants and reading their settings and secrets."""

from __future__ import annotations

import json
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from opswatch import validation
from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.crypto import SecretBox
from opswatch.errors import Conflict, NotFound
from opswatch.models import Tenant

DEFAULT_SETTINGS: dict[str, Any] = {
    "timezone": "UTC",
    "retention_days_alerts": 90,
    "retention_days_audit": 365,
    "severity_mapping": {},
}


async def create_tenant(*, name: str, slug: str | None, actor: Actor) -> Tenant:
    name = validation.required_text("name", name, max_length=200)
    slug = validation.slug("slug", slug) if slug else validation.slugify(name)
    try:
        async with in_transaction() as connection:
            tenant = await Tenant.create(
                name=name, slug=slug, settings=dict(DEFAULT_SETTINGS), using_db=connection
            )
            await record(
                tenant_id=tenant.id,
                actor=actor,
                action="tenant.created",
                target_type="tenant",
                target_id=tenant.id,
                data={"name": name, "slug": slug},
                connection=connection,
            )
    except IntegrityError:
        raise Conflict(f"a tenant with slug {slug!r} already exists", field="slug") from None
    return tenant


async def get_tenant_by_slug(slug: str) -> Tenant:
    tenant = await Tenant.get_or_none(slug=slug)
    if tenant is None:
        raise NotFound(f"no tenant with slug {slug!r}", field="tenant")
    return tenant


def read_secrets(tenant: Tenant, box: SecretBox) -> dict[str, str]:
    if not tenant.secrets_encrypted:
        return {}
    data: dict[str, str] = json.loads(box.decrypt(tenant.secrets_encrypted))
    return data


def sealed_secrets(tenant: Tenant, box: SecretBox, updates: dict[str, str]) -> str:
    """The tenant's secrets with ``updates`` merged in, encrypted for storage."""
    return box.encrypt(json.dumps({**read_secrets(tenant, box), **updates}))


async def store_secrets(
    *, tenant: Tenant, box: SecretBox, updates: dict[str, str], actor: Actor
) -> None:
    """Merge ``updates`` into the tenant's encrypted secrets; the audit names keys, never values."""
    async with in_transaction() as connection:
        tenant.secrets_encrypted = sealed_secrets(tenant, box, updates)
        await tenant.save(update_fields=["secrets_encrypted", "updated_at"], using_db=connection)
        await record(
            tenant_id=tenant.id,
            actor=actor,
            action="tenant.secrets_updated",
            target_type="tenant",
            target_id=tenant.id,
            data={"keys": sorted(updates)},
            connection=connection,
        )
