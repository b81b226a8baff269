"""Migrations build the whole schema from empty, including the partial unique index."""

from __future__ import annotations

import importlib
import uuid
from datetime import UTC, datetime

import pytest
from tortoise import connections
from tortoise.exceptions import IntegrityError

from opswatch.knowledge import search
from opswatch.models import OPEN_ALERT_INDEX, Alert, AlertSourceFormat, AlertStatus, Severity
from tests.conftest import BACKEND
from tests.factories import TenantKit


async def _index_names() -> set[str]:
    connection = connections.get("default")
    if BACKEND == "sqlite":
        rows = await connection.execute_query_dict(
            "SELECT name FROM sqlite_master WHERE type = 'index'"
        )
        return {r["name"] for r in rows}
    rows = await connection.execute_query_dict("SELECT indexname AS name FROM pg_indexes")
    return {r["name"] for r in rows}


async def test_migrations_create_every_table_and_the_partial_indexes() -> None:
    indexes = await _index_names()
    assert OPEN_ALERT_INDEX in indexes
    assert "alert_event_unprocessed" in indexes
    assert "alert_slack_due" in indexes
    assert {"alert_resolved_age", "alert_event_alert", "notification_age"} <= indexes
    assert "notification_open_dm" in indexes
    assert {"alert_event_failed", "alert_event_unprocessed_by_tenant"} <= indexes


async def test_knowledge_has_its_full_text_index() -> None:
    connection = connections.get("default")
    if BACKEND == "sqlite":
        rows = await connection.execute_query_dict(
            "SELECT name FROM sqlite_master "
            "WHERE type IN ('table', 'trigger') AND name LIKE '%_fts%'"
        )
        names = {r["name"] for r in rows}
        for table in ("incident", "runbook"):
            assert {f"{table}_fts", f"{table}_fts_insert", f"{table}_fts_update"} <= names
    else:
        assert {"incident_words", "runbook_words"} <= await _index_names()


def test_search_queries_the_expressions_the_migration_indexed() -> None:
    """PostgreSQL uses an expression index only for the identical expression; the
    migration keeps its own copy (migrations do not change after release), so a
    change to search's expressions needs a new migration, and this says so."""
    indexed = importlib.import_module("opswatch.migrations.0007_knowledge_search")
    assert search.INCIDENT_WORDS == indexed.INCIDENT_WORDS
    assert search.RUNBOOK_WORDS == indexed.RUNBOOK_WORDS


def _alert(kit: TenantKit, status: AlertStatus, short_id: str) -> Alert:
    now = datetime.now(UTC)
    return Alert(
        id=uuid.uuid4(),
        tenant=kit.tenant,
        fingerprint="abc123def456",
        short_id=short_id,
        title="Pod CrashLoopBackOff",
        severity=Severity.CRITICAL,
        status=status,
        source_format=AlertSourceFormat.ALERTMANAGER,
        first_received_at=now,
        last_received_at=now,
    )


async def test_one_open_alert_per_fingerprint_is_enforced_by_the_database(
    acme: TenantKit, globex: TenantKit
) -> None:
    await _alert(acme, AlertStatus.RESOLVED, "aaa111").save()
    await _alert(acme, AlertStatus.RESOLVED, "aaa112").save()  # history may repeat
    await _alert(acme, AlertStatus.FIRING, "aaa113").save()
    await _alert(globex, AlertStatus.FIRING, "aaa113").save()  # other tenant, same key
    with pytest.raises(IntegrityError):
        await _alert(acme, AlertStatus.ACKNOWLEDGED, "aaa114").save()
