"""API keys: how monitoring systems authenticate to a tenant's webhooks."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.transactions import in_transaction

from opswatch import validation
from opswatch.alerts.normalize import GENERIC_FIELDS
from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.crypto import (
    credential_matches,
    credential_prefix,
    hash_credential,
    issue_credential,
)
from opswatch.errors import InvalidInput, NotFound
from opswatch.models import ApiKey, Tenant

KEY_KIND = "k"


@dataclass(frozen=True)
class CreatedApiKey:
    api_key: ApiKey
    clear: str  # shown once; only its hash is stored


def check_field_map(field_map: Any) -> dict[str, str]:
    """A field map sends our field names to dotted paths into the sender's JSON. A key
    that is not one of our fields is refused now: at alert time it would be ignored,
    and the sender's alerts would arrive without what it meant to map."""
    if not isinstance(field_map, dict):
        raise InvalidInput("fieldMap must be a JSON object", field="fieldMap")
    checked: dict[str, str] = {}
    for target, path in field_map.items():
        entry = f"fieldMap.{target}"
        if target not in GENERIC_FIELDS:
            raise InvalidInput(
                f"{entry}: {target!r} is not an OpsWatch field; "
                f"the keys are {', '.join(GENERIC_FIELDS)}",
                field=entry,
            )
        if not isinstance(path, str) or not path or any(not part for part in path.split(".")):
            raise InvalidInput(f"{entry} must be a dotted path like 'alert.name'", field=entry)
        checked[target] = path
    return checked


def check_rate_limit(rate_limit_per_minute: int | None) -> int | None:
    if rate_limit_per_minute is not None and rate_limit_per_minute < 1:
        raise InvalidInput("rateLimitPerMinute must be at least 1", field="rateLimitPerMinute")
    return rate_limit_per_minute


async def create_api_key(
    *,
    tenant: Tenant,
    name: str,
    actor: Actor,
    field_map: dict[str, Any] | None = None,
    rate_limit_per_minute: int | None = None,
) -> CreatedApiKey:
    name = validation.required_text("name", name, max_length=200)
    mapping = check_field_map(field_map or {})
    check_rate_limit(rate_limit_per_minute)
    issued = issue_credential(KEY_KIND)
    async with in_transaction() as connection:
        api_key = await ApiKey.create(
            tenant=tenant,
            name=name,
            prefix=issued.prefix,
            key_hash=issued.digest,
            field_map=mapping,
            rate_limit_per_minute=rate_limit_per_minute,
            using_db=connection,
        )
        await record(
            tenant_id=tenant.id,
            actor=actor,
            action="apikey.created",
            target_type="api_key",
            target_id=api_key.id,
            data={"name": name, "prefix": issued.prefix},
            connection=connection,
        )
    return CreatedApiKey(api_key=api_key, clear=issued.clear)


async def list_api_keys(*, tenant: Tenant) -> list[ApiKey]:
    return await ApiKey.filter(tenant=tenant).order_by("created_at")


async def update_api_key(
    *,
    tenant: Tenant,
    key_id: str,
    actor: Actor,
    name: str | None = None,
    field_map: dict[str, Any] | None = None,
    rate_limit_per_minute: int | None = None,
    clear_rate_limit: bool = False,
) -> ApiKey:
    """Change only what is given (None: unchanged; ``{}`` clears the field map,
    ``clear_rate_limit`` the limit); all is checked before anything is written, and
    the mapping now, not when alerts arrive."""
    api_key = await _find(tenant, key_id)
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = validation.required_text("name", name, max_length=200)
    if field_map is not None:
        values["field_map"] = check_field_map(field_map)
    if rate_limit_per_minute is not None:
        values["rate_limit_per_minute"] = check_rate_limit(rate_limit_per_minute)
    if clear_rate_limit:
        values["rate_limit_per_minute"] = None
    before = {column: getattr(api_key, column) for column in values}
    async with in_transaction() as connection:
        if values:
            await ApiKey.filter(id=api_key.id).using_db(connection).update(**values)
        _forget(api_key)
        await record(
            tenant_id=tenant.id,
            actor=actor,
            action="apikey.updated",
            target_type="api_key",
            target_id=api_key.id,
            data={"before": before, "after": values},
            connection=connection,
        )
    await api_key.refresh_from_db()
    return api_key


async def _find(tenant: Tenant, key_id: str) -> ApiKey:
    """By id or prefix, within the tenant only."""
    query = ApiKey.filter(tenant=tenant)
    try:
        api_key = await query.get_or_none(id=uuid.UUID(key_id))
    except ValueError:
        api_key = await query.get_or_none(prefix=key_id)
    if api_key is None:
        raise NotFound(f"no API key {key_id!r} in this tenant", field="key")
    return api_key


async def revoke_api_key(*, tenant: Tenant, key_id: str, actor: Actor) -> ApiKey:
    """Revoke by id or prefix; revoking twice keeps the first revocation time."""
    api_key = await _find(tenant, key_id)
    if api_key.revoked_at is None:
        async with in_transaction() as connection:
            api_key.revoked_at = datetime.now(UTC)
            _forget(api_key)
            await api_key.save(update_fields=["revoked_at"], using_db=connection)
            await record(
                tenant_id=tenant.id,
                actor=actor,
                action="apikey.revoked",
                target_type="api_key",
                target_id=api_key.id,
                data={"prefix": api_key.prefix},
                connection=connection,
            )
    return api_key


# Every webhook authenticates; a short-lived cache spares a database round trip
# per request. A revocation is seen at once by the process that made it and
# within CACHE_SECONDS by the others.
CACHE_SECONDS = 5.0
_recent: dict[str, tuple[float, ApiKey]] = {}


async def authenticate_api_key(clear: str) -> ApiKey | None:
    """The live key (with its tenant) for a presented key, or None; never says why."""
    digest = hash_credential(clear)
    cached = _recent.get(digest)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    prefix = credential_prefix(clear, KEY_KIND)
    if prefix is None:
        return None
    api_key = await ApiKey.get_or_none(prefix=prefix).select_related("tenant")
    if api_key is None or api_key.revoked_at is not None:
        return None
    if not credential_matches(clear, api_key.key_hash):
        return None
    if len(_recent) > 10_000:
        _recent.clear()
    _recent[digest] = (time.monotonic() + CACHE_SECONDS, api_key)
    return api_key


def _forget(api_key: ApiKey) -> None:
    for digest, (_, cached) in list(_recent.items()):
        if cached.id == api_key.id:
            del _recent[digest]


def forget_tenant(tenant_id: uuid.UUID) -> None:
    """Drop the cached keys of a tenant whose settings changed (they carry the tenant)."""
    for digest, (_, cached) in list(_recent.items()):
        if cached.tenant_id == tenant_id:  # type: ignore[attr-defined]
            del _recent[digest]
