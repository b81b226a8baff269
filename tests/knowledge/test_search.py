"""Knowledge search ranks the same corpus the same way on SQLite (FTS5) and
PostgreSQL (tsvector + GIN): this module runs on both, with the same expectations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opswatch.audit.actor import Actor
from opswatch.knowledge.entries import EntrySpec, create_entry
from opswatch.knowledge.search import search
from opswatch.models import Incident, Runbook
from tests.factories import TenantKit
from tests.knowledge.corpus import INCIDENTS

ACTOR = Actor.system("test")
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def corpus(acme: TenantKit) -> TenantKit:
    for i, (title, severity, cause, solution, tags) in enumerate(INCIDENTS):
        incident = await create_entry(
            tenant=acme.tenant,
            spec=EntrySpec(
                title=title, severity=severity, root_cause=cause, solution=solution, tags=tags
            ),
            author=None,
            actor=ACTOR,
        )
        # Written a day apart: recency breaks ties the same way everywhere.
        await Incident.filter(id=incident.id).update(updated_at=START + timedelta(days=i))
    return acme


async def _titles(kit: TenantKit, query: str) -> list[str]:
    return [hit.title for hit in await search(kit.tenant, query, first=3)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "crashloop",
            [
                "Ingress controller CrashLoopBackOff after upgrade",
                "CrashLoopBackOff after config change in search-api",
                "Pod CrashLoopBackOff in payment-gateway",
            ],
        ),
        (
            "memory limit",  # "limit" is a prefix of "limiting" too
            [
                "Pod CrashLoopBackOff in payment-gateway",
                "OOM kill in recommendation model server",
                "Ingress rate limiting blocks partners",
            ],
        ),
        (
            "postgres replication lag",
            [
                "PostgreSQL replication lag over 5 minutes",
                "Kafka consumer lag on orders topic",
                "Database connection pool exhausted in checkout",  # newer than "Slow queries"
            ],
        ),
        (
            "certificate expired",
            [
                "Certificate expired for api.example.com",
                "Certificate renewal failed for internal CA",
                "Service mesh sidecar injection failing",
            ],
        ),
        ("kafka", ["Kafka consumer lag on orders topic"]),
        ("zzzz nothing", []),
    ],
)
async def test_the_top_three_are_the_same_on_every_backend(
    corpus: TenantKit, query: str, expected: list[str]
) -> None:
    assert await _titles(corpus, query) == expected


async def test_results_carry_severity_and_a_highlighted_solution_preview(corpus: TenantKit) -> None:
    [hit] = await search(corpus.tenant, "quorum", first=1)
    assert (hit.kind, hit.title, hit.severity) == (
        "incident",
        "Redis failover did not happen",
        "critical",
    )
    assert hit.preview == "Run three sentinels and set quorum to 2"
    assert hit.highlight is not None
    start, end = hit.highlight
    assert hit.preview[start:end] == "quorum"


async def test_runbooks_are_found_too_and_other_tenants_never(
    corpus: TenantKit, globex: TenantKit
) -> None:
    await Runbook.create(
        tenant=corpus.tenant,
        title="Restarting Kafka brokers safely",
        slug="kafka-restart",
        body="Drain partitions with kafka-reassign-partitions, then restart one broker at a time.",
        alertnames=["KafkaBrokerDown"],
    )
    assert await _titles(corpus, "kafka") == [
        "Restarting Kafka brokers safely",
        "Kafka consumer lag on orders topic",
    ]
    assert await search(globex.tenant, "kafka") == []


async def test_edits_are_searchable_at_once(corpus: TenantKit) -> None:
    incident = await Incident.get(title="Grafana dashboards empty")
    incident.solution = "Point the datasource at thanos-query instead"
    await incident.save()
    assert await _titles(corpus, "thanos") == ["Grafana dashboards empty"]
    await incident.delete()
    assert await _titles(corpus, "thanos") == []
