"""Runbooks: a tenant's written procedures, in markdown, linked from the alerts they cover.

An alert without a runbook link of its own links to a runbook whose
``alertnames`` name it, else to one linked to its service (``RunbookIndex``).
The link is signed (``runbook_url``) because it is opened from Slack's View
Runbook button, which carries no login; it names the tenant because slugs are
unique only within one. Runbooks are deleted only by an admin, never
automatically.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from opswatch import validation
from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.errors import Conflict, InvalidInput, NotFound
from opswatch.knowledge.links import link_matches, signed_link
from opswatch.knowledge.matching import alertname_of
from opswatch.models import Runbook, Service, Tenant
from opswatch.tenants.owned import get_owned

MAX_BODY = 200_000
MAX_ITEMS = 50
MAX_ITEM_LENGTH = 200
MAX_SERVICES = 200
# Enrichment looks at this many runbooks per tenant and batch, the newest.
MAX_INDEXED = 1_000
_COLUMNS = ("title", "slug", "body", "tags", "alertnames")


@dataclass(frozen=True)
class RunbookSpec:
    title: str
    slug: str
    body: str = ""
    tags: list[str] = field(default_factory=list)
    alertnames: list[str] = field(default_factory=list)
    service_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Checked:
    title: str
    slug: str
    body: str
    tags: list[str]
    alertnames: list[str]
    services: list[Service]

    def columns(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _COLUMNS}


def _columns_of(runbook: Runbook) -> dict[str, Any]:
    return {name: getattr(runbook, name) for name in _COLUMNS}


async def get_runbook(tenant: Tenant, runbook_id: str, field_name: str = "id") -> Runbook:
    return await get_owned(Runbook, tenant, runbook_id, field_name, "runbook")


async def create_runbook(*, tenant: Tenant, spec: RunbookSpec, actor: Actor) -> Runbook:
    checked = await _checked(tenant, spec)
    try:
        async with in_transaction() as connection:
            runbook = await Runbook.create(tenant=tenant, using_db=connection, **checked.columns())
            if checked.services:
                await runbook.services.add(*checked.services, using_db=connection)
            await record(
                tenant_id=tenant.id,
                actor=actor,
                action="runbook.created",
                target_type="runbook",
                target_id=runbook.id,
                data={"after": _described(checked.columns(), _ids_of(checked.services))},
                connection=connection,
            )
    except IntegrityError:
        raise _slug_taken(checked.slug) from None
    return runbook


async def update_runbook(
    *, tenant: Tenant, runbook: Runbook, spec: RunbookSpec, actor: Actor
) -> Runbook:
    """Replace the runbook's words, names and services; the audit entry keeps what changed."""
    checked = await _checked(tenant, spec)
    before = _described(_columns_of(runbook), _ids_of(await runbook.services.all()))
    after = _described(checked.columns(), _ids_of(checked.services))
    changed = [name for name in after if before[name] != after[name]]
    try:
        async with in_transaction() as connection:
            for name, value in checked.columns().items():
                setattr(runbook, name, value)
            await runbook.save(using_db=connection)
            if "service_ids" in changed:  # rewritten only when they change
                await runbook.services.clear(using_db=connection)
                if checked.services:
                    await runbook.services.add(*checked.services, using_db=connection)
            await record(
                tenant_id=tenant.id,
                actor=actor,
                action="runbook.updated",
                target_type="runbook",
                target_id=runbook.id,
                data={
                    "before": {name: before[name] for name in changed},
                    "after": {name: after[name] for name in changed},
                },
                connection=connection,
            )
    except IntegrityError:
        raise _slug_taken(checked.slug) from None
    await runbook.refresh_from_db()
    return runbook


async def change_runbook(
    *, tenant: Tenant, runbook: Runbook, changes: dict[str, Any], actor: Actor
) -> Runbook:
    """Change only the fields named in ``changes`` (``RunbookSpec``'s names); the rest
    keep their values. Checked as a whole before anything is written, like an edit."""
    unknown = set(changes) - {f.name for f in fields(RunbookSpec)}
    if unknown:
        raise ValueError(f"not a runbook field: {sorted(unknown)}")  # a programming error
    if "service_ids" in changes:
        service_ids = list(changes["service_ids"])
    else:
        service_ids = _ids_of(await runbook.services.all())
    spec = RunbookSpec(
        title=changes.get("title", runbook.title),
        slug=changes.get("slug", runbook.slug),
        body=changes.get("body", runbook.body),
        tags=list(changes.get("tags", runbook.tags or [])),
        alertnames=list(changes.get("alertnames", runbook.alertnames or [])),
        service_ids=service_ids,
    )
    return await update_runbook(tenant=tenant, runbook=runbook, spec=spec, actor=actor)


async def delete_runbook(*, tenant: Tenant, runbook: Runbook, actor: Actor) -> None:
    """Links already posted for it then lead to "not found"; alerts keep their URL."""
    services = _ids_of(await runbook.services.all())
    async with in_transaction() as connection:
        await runbook.services.clear(using_db=connection)
        await Runbook.filter(id=runbook.id, tenant=tenant).using_db(connection).delete()
        await record(
            tenant_id=tenant.id,
            actor=actor,
            action="runbook.deleted",
            target_type="runbook",
            target_id=runbook.id,
            data={"before": _described(_columns_of(runbook), services)},
            connection=connection,
        )


def runbook_url(tenant_id: uuid.UUID, slug: str) -> str:
    """The runbook's page, signed so that it opens without a login."""
    return signed_link("runbook", tenant_id, slug)


def link_is_valid(tenant_id: str, slug: str, signature: str) -> bool:
    """Whether ``t`` and ``sig`` of a runbook link are the ones ``runbook_url`` made."""
    return link_matches("runbook", tenant_id, slug, signature)


@dataclass(frozen=True)
class RunbookRef:
    """What enrichment needs of a runbook (never its body)."""

    id: uuid.UUID
    slug: str
    alertnames: frozenset[str]
    service_ids: frozenset[uuid.UUID]


class RunbookIndex:
    """A tenant's runbooks by alertname and by service, loaded once per batch."""

    def __init__(self, tenant_id: uuid.UUID, refs: Sequence[RunbookRef]) -> None:
        self.tenant_id = tenant_id
        # ``refs`` come newest first: the newest runbook naming an alert or service wins.
        self.by_alertname: dict[str, RunbookRef] = {}
        self.by_service: dict[uuid.UUID, RunbookRef] = {}
        for ref in refs:
            for name in ref.alertnames:
                self.by_alertname.setdefault(name, ref)
            for service_id in ref.service_ids:
                self.by_service.setdefault(service_id, ref)
        self._urls: dict[str, str] = {}

    @classmethod
    def empty(cls, tenant_id: uuid.UUID) -> RunbookIndex:
        return cls(tenant_id, [])

    @classmethod
    async def for_tenant(cls, tenant: Tenant) -> RunbookIndex:
        """Two queries at most, whatever the number of alerts they serve."""
        rows = (
            await Runbook.filter(tenant=tenant)
            .order_by("-updated_at", "id")
            .limit(MAX_INDEXED)
            .values_list("id", "slug", "alertnames")
        )
        if not rows:
            return cls.empty(tenant.id)
        services: dict[uuid.UUID, set[uuid.UUID]] = {row[0]: set() for row in rows}
        links = await Runbook.filter(id__in=list(services)).values_list("id", "services__id")
        for runbook_id, service_id in links:
            if service_id is not None:  # a runbook without services joins to none
                services[runbook_id].add(service_id)
        refs = [
            RunbookRef(
                id=runbook_id,
                slug=slug,
                alertnames=frozenset(str(name) for name in alertnames or []),
                service_ids=frozenset(services[runbook_id]),
            )
            for runbook_id, slug, alertnames in rows
        ]
        return cls(tenant.id, refs)

    def find_for_alert(
        self, title: str, labels: dict[str, Any], service_id: uuid.UUID | None
    ) -> RunbookRef | None:
        """The runbook naming the alert's alertname (or title), else one of its service."""
        named = self.by_alertname.get(alertname_of(title, labels))
        if named is not None:
            return named
        return self.by_service.get(service_id) if service_id is not None else None

    def url_for_alert(
        self, title: str, labels: dict[str, Any], service_id: uuid.UUID | None
    ) -> str | None:
        found = self.find_for_alert(title, labels, service_id)
        if found is None:
            return None
        if found.slug not in self._urls:
            self._urls[found.slug] = runbook_url(self.tenant_id, found.slug)
        return self._urls[found.slug]


async def _checked(tenant: Tenant, spec: RunbookSpec) -> _Checked:
    body = spec.body or ""
    if len(body) > MAX_BODY:
        raise InvalidInput(f"body must be at most {MAX_BODY} characters", field="body")
    return _Checked(
        title=validation.required_text("title", spec.title, max_length=500),
        slug=validation.slug("slug", (spec.slug or "").strip()),
        body=body,
        tags=_short_strings("tags", spec.tags),
        alertnames=_short_strings("alertnames", spec.alertnames),
        services=await _owned_services(tenant, spec.service_ids),
    )


def _short_strings(field_name: str, values: Sequence[str]) -> list[str]:
    if len(values) > MAX_ITEMS:
        raise InvalidInput(f"{field_name}: at most {MAX_ITEMS} items", field=field_name)
    checked = [
        validation.required_text(f"{field_name}[{index}]", value, max_length=MAX_ITEM_LENGTH)
        for index, value in enumerate(values)
    ]
    return list(dict.fromkeys(checked))


async def _owned_services(tenant: Tenant, raw_ids: Sequence[str]) -> list[Service]:
    if len(raw_ids) > MAX_SERVICES:
        raise InvalidInput(f"serviceIds: at most {MAX_SERVICES} services", field="serviceIds")
    keys = []
    for raw in raw_ids:
        try:
            keys.append(uuid.UUID(str(raw)))
        except ValueError:
            raise NotFound(f"serviceIds: no such service {raw!r}", field="serviceIds") from None
    found = {s.id: s for s in await Service.filter(id__in=keys, tenant=tenant)} if keys else {}
    for key in keys:
        if key not in found:
            raise NotFound(f"serviceIds: no such service {str(key)!r}", field="serviceIds")
    return [found[key] for key in dict.fromkeys(keys)]


def _ids_of(services: Sequence[Service]) -> list[str]:
    return sorted(str(s.id) for s in services)


def _described(columns: dict[str, Any], service_ids: list[str]) -> dict[str, Any]:
    """A runbook as its audit entries show it: the body by size and digest, as a
    200,000-character body copied into every entry would swamp the log."""
    body = columns["body"] or ""
    return {
        "title": columns["title"],
        "slug": columns["slug"],
        "body": {
            "characters": len(body),
            "sha256": hashlib.sha256(body.encode()).hexdigest(),
        },
        "tags": list(columns["tags"] or []),
        "alertnames": list(columns["alertnames"] or []),
        "service_ids": service_ids,
    }


def _slug_taken(slug: str) -> Conflict:
    return Conflict(f"a runbook with slug {slug!r} already exists", field="slug")
