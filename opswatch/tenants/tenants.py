"""Creating tenants and reading their settings and secrets."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from opswatch import validation
from opswatch.alerts import severity_words
from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.crypto import SecretBox
from opswatch.errors import Conflict, InvalidInput, NotFound
from opswatch.models import Severity, Tenant, User
from opswatch.tenants.apikeys import forget_tenant

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


# What ``update_tenant`` may change (Python names), and how clients spell each.
CHANGEABLE = {"name": "name", "timezone": "timezone", "severity_mapping": "severityMapping"}
MAX_MAPPED_WORDS = 100
MAX_WORD = 64


def timezone_of(tenant: Tenant) -> str:
    """The tenant's default time zone: new users and rosters start in it."""
    zone: str = (tenant.settings or {}).get("timezone") or DEFAULT_SETTINGS["timezone"]
    return zone


def severity_mapping_of(tenant: Tenant) -> dict[str, str]:
    """Sender's word -> OpsWatch severity; webhooks and enrichment read it."""
    mapping: dict[str, str] = (tenant.settings or {}).get("severity_mapping") or {}
    return mapping


def check_severity_mapping(field: str, mapping: Any) -> dict[str, str]:
    """Sender's word -> OpsWatch severity, keys stored as webhooks compare them
    (trimmed, lower-cased); a bad entry is named ``<field>.<word as given>``."""
    if not isinstance(mapping, Mapping):
        raise InvalidInput(f"{field} must be a JSON object of word -> severity", field=field)
    if len(mapping) > MAX_MAPPED_WORDS:
        raise InvalidInput(f"{field} may hold at most {MAX_MAPPED_WORDS} words", field=field)
    severities = [s.value for s in Severity]
    checked: dict[str, str] = {}
    for word, severity in mapping.items():
        entry = f"{field}.{word}"
        key = severity_words.normalized(word)
        if not key or len(key) > MAX_WORD:
            raise InvalidInput(f"{entry}: a word must be 1 to {MAX_WORD} characters", field=entry)
        value = severity_words.normalized(severity) if isinstance(severity, str) else None
        if value not in severities:
            raise InvalidInput(f"{entry} must be one of {', '.join(severities)}", field=entry)
        if checked.get(key, value) != value:
            raise InvalidInput(f"{entry}: {key!r} is mapped twice, differently", field=entry)
        checked[key] = value
    return checked


async def update_tenant(*, tenant: Tenant, changes: dict[str, Any], actor: Actor) -> Tenant:
    """Apply only the fields in ``changes`` (a None severity mapping clears it), all
    validated before anything is written; the audit entry keeps before and after.

    Nothing to bump: enrichment reads these settings from the tenant row of each
    batch, not from the configuration it keeps between batches.
    """
    unknown = set(changes) - set(CHANGEABLE)
    if unknown:
        raise ValueError(f"not a tenant field: {sorted(unknown)}")  # a programming error
    values = _checked_tenant_changes(changes)
    async with in_transaction() as connection:
        # Read again under the row lock: settings is one JSON value that retention,
        # Slack and telephony changes write too, and none of theirs may be lost.
        current = await Tenant.select_for_update().using_db(connection).get(id=tenant.id)
        before = _settings_view(current.name, current.settings or {})
        settings = dict(current.settings or {})
        for key in ("timezone", "severity_mapping"):
            if key in values:
                settings[key] = values[key]
        name = values.get("name", current.name)
        await (
            Tenant.filter(id=tenant.id)
            .using_db(connection)
            .update(name=name, settings=settings, updated_at=datetime.now(UTC))
        )
        after = _settings_view(name, settings)
        await record(
            tenant_id=tenant.id,
            actor=actor,
            action="tenant.updated",
            target_type="tenant",
            target_id=tenant.id,
            data={
                "before": {key: before[key] for key in values},
                "after": {key: after[key] for key in values},
            },
            connection=connection,
        )
    # Webhook keys keep their tenant for a few seconds; this process sees the change now.
    forget_tenant(tenant.id)
    await tenant.refresh_from_db()
    return tenant


def _checked_tenant_changes(changes: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column, value in changes.items():
        field = CHANGEABLE[column]
        if column == "name":
            values["name"] = validation.required_text(field, value, max_length=200)
        elif column == "timezone":
            if not isinstance(value, str):
                raise InvalidInput(f"{field} must be an IANA time zone name", field=field)
            values["timezone"] = validation.timezone(field, value)
        else:
            values["severity_mapping"] = (
                {} if value is None else check_severity_mapping(field, value)
            )
    return values


def _settings_view(name: str, settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "timezone": settings.get("timezone") or DEFAULT_SETTINGS["timezone"],
        "severity_mapping": settings.get("severity_mapping") or {},
    }


async def list_tenants() -> list[tuple[Tenant, int]]:
    """Every tenant with its number of users, by slug (an operator's view: the CLI)."""
    rows = await Tenant.all().order_by("slug")
    counted = (
        await User.all()
        .group_by("tenant_id")
        .annotate(users=Count("id"))
        .values("tenant_id", "users")
    )
    users = {str(row["tenant_id"]): row["users"] for row in counted}
    return [(tenant, users.get(str(tenant.id), 0)) for tenant in rows]


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
