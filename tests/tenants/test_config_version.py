"""``tenant.config_version`` moves with every change enrichment reads, and only then.

Workers keep enrichment configuration until this number moves (see
``opswatch.alerts.enrich.TenantConfig``): a change that did not move it would be
served stale, so each kind of row is changed here through the database itself.
"""

from __future__ import annotations

from collections.abc import Awaitable

from opswatch.audit.actor import Actor
from opswatch.knowledge.runbooks import RunbookSpec, create_runbook
from opswatch.models import Incident, RosterMember, Tenant, User
from opswatch.tenants.services import create_service
from tests.factories import TenantKit
from tests.rosters.support import global_primary

ACTOR = Actor.system("test")


async def version(tenant: Tenant) -> int:
    return (await Tenant.get(id=tenant.id)).config_version


async def moves(tenant: Tenant, change: Awaitable[object]) -> bool:
    before = await version(tenant)
    await change
    return await version(tenant) > before


async def test_every_change_enrichment_reads_moves_only_its_own_tenants_version(
    acme: TenantKit, globex: TenantKit
) -> None:
    tenant = acme.tenant
    others = await version(globex.tenant)
    spec = await global_primary(tenant)
    service = await create_service(tenant=tenant, name="etcd", actor=ACTOR)

    # Rows that name their tenant, and rows that name it through a parent.
    assert await moves(tenant, RosterMember.filter(roster_id=spec.apac.id).limit(1).delete())
    assert await moves(tenant, User.filter(id=spec.people["Bob"].id).update(active=False))
    runbook = await create_runbook(
        tenant=tenant,
        spec=RunbookSpec(title="Etcd", slug="etcd", service_ids=[str(service.id)]),
        actor=ACTOR,
    )
    assert await moves(tenant, runbook.services.clear())

    # Knowledge counts when it can be a Known Solution, not when an agent repeats it.
    draft = await Incident.create(tenant=tenant, title="disk full")
    assert await moves(tenant, Incident.filter(id=draft.id).update(solution="rotate logs"))
    assert not await moves(tenant, Incident.filter(id=draft.id).update(occurrences=5))
    assert await moves(tenant, Incident.filter(id=draft.id).update(match_rule={"alertname": "X"}))
    assert not await moves(tenant, Incident.create(tenant=tenant, title="unsolved"))
    assert await moves(tenant, Incident.filter(id=draft.id).delete())

    assert await version(globex.tenant) == others
