"""Data retention (spec 6): what goes, what stays, exactly at the boundary, per
tenant, archived not lost, dry runs, concurrent runs, and the command."""

from __future__ import annotations

import asyncio
import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opswatch.audit.actor import Actor
from opswatch.audit.cleanup import cleanup
from opswatch.audit.retention import set_retention
from opswatch.models import (
    ActorType,
    Alert,
    AlertEvent,
    AlertSourceFormat,
    AlertStatus,
    AuditLog,
    AuditLogArchive,
    Channel,
    EscalationEvent,
    Incident,
    Runbook,
    Severity,
    Tenant,
)
from tests.cli.support import opswatch
from tests.factories import TenantKit

AS_OF = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
ACTOR = Actor.system("test")


async def _resolved_alert(
    tenant: Tenant, days_ago: float, *, incident: Incident | None = None, events: int = 2
) -> Alert:
    resolved = AS_OF - timedelta(days=days_ago)
    alert = await Alert.create(
        tenant=tenant,
        fingerprint=f"fp-{uuid.uuid4().hex[:8]}",
        short_id=uuid.uuid4().hex[:6],
        title="Old news",
        severity=Severity.WARNING,
        status=AlertStatus.RESOLVED,
        source_format=AlertSourceFormat.GENERIC,
        first_received_at=resolved - timedelta(hours=1),
        last_received_at=resolved,
        resolved_at=resolved,
        incident=incident,
    )
    for i in range(events):
        await EscalationEvent.create(
            tenant=tenant, alert=alert, cycle=0, tier=1, target=f"t{i}", channel=Channel.SMS
        )
        await AlertEvent.create(
            tenant=tenant,
            alert=alert,
            source_format=AlertSourceFormat.GENERIC,
            fingerprint=alert.fingerprint,
            status="firing",
            normalized={},
            payload={},
            received_at=resolved,
            processed_at=resolved,
        )
    return alert


async def _audit(tenant: Tenant, days_ago: float, count: int) -> None:
    for i in range(count):
        await AuditLog.create(
            tenant=tenant,
            actor_type=ActorType.SYSTEM,
            action="test.entry",
            target_type="test",
            target_id=str(i),
            source="system",
            data={"n": i},
            created_at=AS_OF - timedelta(days=days_ago),
        )


async def test_resolved_alerts_past_retention_go_with_their_events(acme: TenantKit) -> None:
    tenant = acme.tenant
    old = await _resolved_alert(tenant, 91)
    boundary = await _resolved_alert(tenant, 90)  # exactly 90 days: not older, kept
    recent = await _resolved_alert(tenant, 10)
    incident = await Incident.create(tenant=tenant, title="Kept for its incident")
    linked = await _resolved_alert(tenant, 400, incident=incident)
    firing = await Alert.create(
        tenant=tenant,
        fingerprint="still-firing",
        short_id="firing",
        title="Old but open",
        severity=Severity.HIGH,
        source_format=AlertSourceFormat.GENERIC,
        first_received_at=AS_OF - timedelta(days=500),
        last_received_at=AS_OF - timedelta(days=500),
    )
    runbook = await Runbook.create(tenant=tenant, title="Kept", slug="kept")

    [report] = await cleanup(as_of=AS_OF, tenant_slug=tenant.slug, actor=ACTOR)
    assert report.deleted_alerts == 1
    assert report.deleted_escalation_events == 2
    assert report.deleted_inbox_events == 2
    assert report.kept_for_incidents == 1
    assert await Alert.filter(id=old.id).exists() is False
    assert await EscalationEvent.filter(alert_id=old.id).count() == 0
    assert await AlertEvent.filter(alert_id=old.id).count() == 0
    for kept in (boundary, recent, linked, firing):
        assert await Alert.filter(id=kept.id).exists()
    assert await EscalationEvent.filter(alert_id=boundary.id).count() == 2
    assert await Incident.filter(id=incident.id).exists()
    assert await Runbook.filter(id=runbook.id).exists()
    entry = await AuditLog.get(tenant=tenant, action="retention.cleanup")
    assert entry.data["deleted_alerts"] == 1
    again = await cleanup(as_of=AS_OF, tenant_slug=tenant.slug, actor=ACTOR)
    assert again[0].deleted_alerts == 0  # a re-run finds nothing left to do


async def test_each_tenant_has_its_own_retention(acme: TenantKit, globex: TenantKit) -> None:
    await set_retention(tenant=globex.tenant, alert_days=7, audit_days=30, actor=ACTOR)
    acme_alert = await _resolved_alert(acme.tenant, 8)
    globex_alert = await _resolved_alert(globex.tenant, 8)
    await _audit(acme.tenant, 31, 3)
    await _audit(globex.tenant, 31, 3)
    reports = {r.tenant: r for r in await cleanup(as_of=AS_OF, actor=ACTOR)}
    assert reports[acme.tenant.slug].deleted_alerts == 0
    assert reports[globex.tenant.slug].deleted_alerts == 1
    assert reports[acme.tenant.slug].archived_audit_entries == 0
    assert reports[globex.tenant.slug].archived_audit_entries == 3
    assert await Alert.filter(id=acme_alert.id).exists()
    assert not await Alert.filter(id=globex_alert.id).exists()


async def test_audit_entries_are_archived_not_lost(acme: TenantKit, tmp_path: Path) -> None:
    await _audit(acme.tenant, 400, 25)
    await _audit(acme.tenant, 100, 5)
    before = await AuditLog.all().count() + await AuditLogArchive.all().count()
    [report] = await cleanup(
        as_of=AS_OF, tenant_slug=acme.tenant.slug, export_dir=tmp_path, actor=ACTOR, batch=7
    )
    assert report.archived_audit_entries == 25
    # The run's own report is one new entry; nothing else appeared or vanished.
    after = await AuditLog.all().count() + await AuditLogArchive.all().count()
    assert after == before + 1
    assert await AuditLogArchive.filter(tenant=acme.tenant).count() == 25
    archived = await AuditLogArchive.filter(tenant=acme.tenant).order_by("created_at").first()
    assert archived is not None
    assert archived.action == "test.entry"
    assert archived.archived_at == AS_OF
    assert report.exported_to is not None
    with gzip.open(report.exported_to, "rt", encoding="utf-8") as lines:
        exported = [json.loads(line) for line in lines]
    assert len(exported) == 25
    assert {e["action"] for e in exported} == {"test.entry"}
    assert all(isinstance(e["data"], dict) for e in exported)


async def test_a_dry_run_changes_nothing(acme: TenantKit) -> None:
    await _resolved_alert(acme.tenant, 200)
    await _audit(acme.tenant, 400, 4)
    alerts, audit = await Alert.all().count(), await AuditLog.all().count()
    [report] = await cleanup(as_of=AS_OF, dry_run=True, actor=ACTOR)
    assert report.dry_run is True
    assert report.deleted_alerts == 1
    assert report.deleted_escalation_events == 2
    assert report.archived_audit_entries == 4
    assert (await Alert.all().count(), await AuditLog.all().count()) == (alerts, audit)


async def test_two_runs_at_once_delete_each_row_once(acme: TenantKit) -> None:
    for _ in range(30):
        await _resolved_alert(acme.tenant, 120, events=1)
    await _audit(acme.tenant, 400, 40)
    first, second = await asyncio.gather(
        cleanup(as_of=AS_OF, actor=ACTOR, batch=5), cleanup(as_of=AS_OF, actor=ACTOR, batch=5)
    )
    assert first[0].deleted_alerts + second[0].deleted_alerts == 30
    assert first[0].archived_audit_entries + second[0].archived_audit_entries == 40
    assert await Alert.filter(tenant=acme.tenant).count() == 0
    assert await AuditLogArchive.filter(tenant=acme.tenant).count() == 40


async def test_the_command(acme: TenantKit, test_env: dict[str, str]) -> None:
    doomed = await _resolved_alert(acme.tenant, 95)
    dry = opswatch(test_env, "cleanup", "--dry-run", "--as-of", "2026-11-27T03:00:00Z", "--json")
    assert dry.returncode == 0, dry.stderr
    [report] = json.loads(dry.stdout)["tenants"]
    assert (report["tenant"], report["deleted_alerts"], report["dry_run"]) == (
        acme.tenant.slug,
        1,
        True,
    )
    assert await Alert.filter(id=doomed.id).exists()
    real = opswatch(
        test_env, "cleanup", "--tenant", acme.tenant.slug, "--as-of", "2026-11-27T03:00Z"
    )
    assert real.returncode == 0, real.stderr
    assert real.stdout.startswith(f"{acme.tenant.slug}: deleted 1 alerts")
    assert not await Alert.filter(id=doomed.id).exists()
    unknown = opswatch(test_env, "cleanup", "--tenant", "nope")
    assert unknown.returncode != 0
    assert "nope" in unknown.stderr
    bad = opswatch(test_env, "cleanup", "--as-of", "yesterday")
    assert bad.returncode == 2
    assert "ISO-8601" in bad.stderr
