"""Processing inbox events: dedup, enrich, persist, then publish.

A job takes the oldest pending inbox events, batch after batch. Consecutive firing events of one
fingerprint collapse into one run (a storm of 500 repeats is one row update,
not 500), and all firing runs of a batch go to the database in one upsert on
the partial unique index of open alerts: the database, not a read-then-write,
decides whether an event opens an alert or repeats one. Events are claimed and
marked processed in the same transaction as their effect, so processing a
batch twice, or in two workers at once, changes nothing.

No event can stop the pipeline. A batch that fails for anything but a database
that cannot answer now is split in halves, each processed on its own, until
the event that fails is alone; every other event goes on. An event that fails
``MAX_EVENT_ATTEMPTS`` times is quarantined: marked processed with the outcome
``failed`` and its error, counted in ``/metrics``, logged once as an ERROR,
listed to admins (GraphQL ``failedEvents``) and retried on request.

Each batch claims a share of every tenant's backlog (oldest first within a
tenant), so one tenant's storm does not queue other tenants' alerts behind it.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter as Tally
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import Counter
from tortoise.transactions import in_transaction

from opswatch.alerts import store
from opswatch.alerts.actions import SLACK_SYNC_JOB, TICK_JOB
from opswatch.alerts.enrich import Enricher
from opswatch.alerts.inbox import PROCESS_JOB
from opswatch.alerts.live import AlertEventKind, publish_alert_events
from opswatch.alerts.normalize import NormalizedEvent
from opswatch.dberrors import retryable
from opswatch.knowledge import agent as agent_knowledge
from opswatch.metrics.definitions import EVENTS_PROCESSED
from opswatch.models import (
    ActorType,
    Alert,
    AlertEvent,
    AlertStatus,
    EscalationState,
    Tenant,
)
from opswatch.queue import enqueue
from opswatch.queue.drain import Drain
from opswatch.sql import Statement

log = logging.getLogger(__name__)

QUARANTINED = Counter(
    "opswatch_inbox_events_quarantined_total",
    "Inbox events set aside after failing processing again and again",
    ["source_format"],
)
FAILED_ATTEMPTS = Counter(
    "opswatch_inbox_event_failures_total",
    "Failed attempts to process one inbox event (each counted once per attempt)",
)


@dataclass(frozen=True)
class Outcome:
    """What one run of events did: the alert it touched and the live event to publish."""

    tenant_id: uuid.UUID
    event_ids: list[uuid.UUID]
    alert_id: uuid.UUID | None
    kind: AlertEventKind | None  # None: nothing changed (e.g. resolve of an unknown alert)
    labels: list[str]  # per event, stored as the inbox outcome


@dataclass(frozen=True, slots=True)
class InboxEvent:
    """A claimed inbox row: only the columns processing reads (not the sender's payload)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    api_key_id: uuid.UUID | None
    fingerprint: str
    source_format: str
    received_at: datetime
    normalized: dict[str, Any]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> InboxEvent:
        # SQLite hands back text where PostgreSQL hands back uuids and datetimes.
        received_at = row["received_at"]
        return cls(
            id=_as_uuid(row["id"]),
            tenant_id=_as_uuid(row["tenant_id"]),
            api_key_id=_as_uuid(row["api_key_id"]) if row["api_key_id"] is not None else None,
            fingerprint=row["fingerprint"],
            source_format=row["source_format"],
            received_at=(
                received_at
                if isinstance(received_at, datetime)
                else datetime.fromisoformat(received_at)
            ),
            normalized=orjson.loads(row["normalized"]),
        )


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


@dataclass
class Run:
    tenant_id: uuid.UUID
    action: str  # firing, resolved, acknowledged, agent, ignored
    rows: list[InboxEvent]
    events: list[NormalizedEvent]


CLAIM_LIMIT = 500
MAX_BATCHES_PER_JOB = 50
RETRY_DEFERRED_MS = 200
MAX_EVENT_ATTEMPTS = 3
MAX_ERROR_TEXT = 2_000


_drain = Drain()


async def process_pending() -> list[Outcome]:
    """Process what is pending in the inbox, oldest first, batch after batch.

    One drain per process at a time (see ``opswatch.queue.drain``); drains in
    different processes overlap freely, each claiming rows the others have not
    locked.
    """
    if not _drain.start():
        return []
    try:
        outcomes: list[Outcome] = []
        for _ in range(MAX_BATCHES_PER_JOB):
            _drain.next_round()
            batch, deferred = await _process_and_announce()
            outcomes += batch
            if deferred:
                # Another job holds older events of these fingerprints: come back after it.
                await enqueue(PROCESS_JOB, delay_ms=RETRY_DEFERRED_MS)
            if not batch and not _drain.asked_again:
                return outcomes
        # Still more after many batches: a fresh job goes on, so no job runs unbounded.
        await enqueue(PROCESS_JOB)
        return outcomes
    finally:
        _drain.finish()


async def _process_and_announce() -> tuple[list[Outcome], bool]:
    """One batch, committed, then announced: live events and the jobs it calls for."""
    batch, committed, deferred = await _process_isolating()
    _count_processed(batch)
    # Published per batch (after its commit), not after the whole job.
    await publish_alert_events(
        [
            (committed[outcome.alert_id], outcome.kind)
            for outcome in batch
            if outcome.kind is not None and outcome.alert_id is not None
        ]
    )
    if any(
        o.kind is AlertEventKind.CREATED
        and o.alert_id is not None
        and committed[o.alert_id].escalation_state is EscalationState.ACTIVE
        for o in batch
    ):
        await enqueue(TICK_JOB)  # tier 1 now, not at the next scheduler tick
    if any(committed[a].notify_pending for a in committed):
        await enqueue(SLACK_SYNC_JOB)
    return batch, deferred


def _count_processed(outcomes: list[Outcome]) -> None:
    """Counted once committed (a batch split in halves is counted by its halves)."""
    for label, count in Tally(label for o in outcomes for label in o.labels).items():
        EVENTS_PROCESSED.labels(label).inc(count)


Processed = tuple[list[Outcome], dict[uuid.UUID, Alert], bool]


class BatchFailed(Exception):
    """Processing the claimed events failed; nothing of the batch was committed."""

    def __init__(self, event_ids: list[uuid.UUID], error: Exception) -> None:
        super().__init__(str(error))
        self.event_ids = event_ids
        self.error = error


async def _process_isolating(only: list[uuid.UUID] | None = None) -> Processed:
    """A batch (the next one, or the events ``only``); when it fails, its halves on
    their own, down to the one event that fails, whose failure is recorded.

    A database that cannot answer now fails the whole job instead (its retry
    comes back to the same events): that is nobody's event's fault.
    """
    try:
        return await _process_batch(only)
    except BatchFailed as failed:
        if retryable(failed.error):
            raise failed.error from None
        if len(failed.event_ids) == 1:
            # Still pending after a failed attempt: "deferred", so that the next
            # attempt comes shortly and the event is quarantined within seconds.
            pending = await _record_failure(failed.event_ids[0], failed.error)
            return [], {}, pending
        half = len(failed.event_ids) // 2
        outcomes: list[Outcome] = []
        committed: dict[uuid.UUID, Alert] = {}
        deferred = False
        for part in (failed.event_ids[:half], failed.event_ids[half:]):
            part_outcomes, part_committed, part_deferred = await _process_isolating(part)
            outcomes += part_outcomes
            committed.update(part_committed)
            deferred = deferred or part_deferred
        return outcomes, committed, deferred


async def _process_batch(only: list[uuid.UUID] | None = None) -> Processed:
    """The batch's outcomes, the alerts they touched as committed, and whether
    events were deferred."""
    async with in_transaction() as connection:
        sql = Statement(connection)
        claimed = await _claim(sql, only)
        try:
            return await _process_claimed(sql, claimed)
        except Exception as error:
            # Raised inside the transaction, so everything the batch did rolls back.
            raise BatchFailed([row.id for row in claimed], error) from error


async def _process_claimed(sql: Statement, claimed: list[InboxEvent]) -> Processed:
    ready = await _without_gaps(sql, claimed)
    if not ready:
        return [], {}, len(claimed) > 0
    now = datetime.now(UTC)
    runs = _runs(ready)
    enrichers = await _enrichers(sql, runs, now)
    outcomes: list[Outcome] = []
    for round_runs in _rounds(runs):
        outcomes += await _apply_round(sql, round_runs, enrichers, now)
    await _mark_processed(sql, outcomes, now)
    await _audit(sql, outcomes, {row.id: row for row in ready}, now)
    touched = {o.alert_id for o in outcomes if o.kind is not None and o.alert_id is not None}
    # One read per batch, inside the transaction: the state this batch committed.
    committed = {row.id: row for row in await Alert.filter(id__in=touched).using_db(sql.connection)}
    return outcomes, committed, len(ready) < len(claimed)


_CLAIMED_COLUMNS = "id, tenant_id, api_key_id, fingerprint, source_format, received_at, normalized"

# Every tenant with a backlog (a skip scan of the unprocessed-by-tenant index: one
# probe per tenant, however deep a storm's backlog), then the oldest events of each,
# an equal share of the batch apiece, locked so that a concurrent drain skips them.
_FAIR_CLAIM = f"""
WITH RECURSIVE pending(tenant_id) AS (
    (SELECT tenant_id FROM alert_event WHERE processed_at IS NULL ORDER BY tenant_id LIMIT 1)
    UNION ALL
    SELECT (SELECT later.tenant_id FROM alert_event AS later
            WHERE later.processed_at IS NULL AND later.tenant_id > pending.tenant_id
            ORDER BY later.tenant_id LIMIT 1)
    FROM pending WHERE pending.tenant_id IS NOT NULL
),
tenants AS (SELECT tenant_id FROM pending WHERE tenant_id IS NOT NULL LIMIT {CLAIM_LIMIT}),
share AS (SELECT GREATEST(1, {CLAIM_LIMIT} / NULLIF(count(*), 0))::int AS size FROM tenants)
SELECT claimed.* FROM tenants CROSS JOIN share CROSS JOIN LATERAL (
    SELECT {_CLAIMED_COLUMNS} FROM alert_event
    WHERE alert_event.tenant_id = tenants.tenant_id AND alert_event.processed_at IS NULL
    ORDER BY alert_event.received_at LIMIT share.size FOR UPDATE SKIP LOCKED
) AS claimed
"""  # noqa: S608  (only constants are interpolated)


async def _claim(sql: Statement, only: list[uuid.UUID] | None = None) -> list[InboxEvent]:
    """The next batch (a fair share of each tenant's backlog), or those of the events
    ``only`` still unprocessed; locked for this transaction on PostgreSQL so a
    concurrent job skips them (SQLite serialises writers anyway).

    Sorted by tenant and fingerprint, so every transaction takes alert row locks
    in one global order (batches wait for each other, never deadlock); within a
    fingerprint, events keep the order they arrived in.
    """
    if only is not None:
        lock = "" if sql.sqlite else " FOR UPDATE SKIP LOCKED"
        marks = ", ".join(f":e{i}" for i in range(len(only)))
        rows = await sql.rows(
            f"SELECT {_CLAIMED_COLUMNS} FROM alert_event "  # noqa: S608
            f"WHERE id IN ({marks}) AND processed_at IS NULL{lock}",
            **{f"e{i}": event_id for i, event_id in enumerate(only)},
        )
    elif sql.sqlite:
        rows = await _fair_claim_sqlite(sql)
    else:
        rows = await sql.rows(_FAIR_CLAIM)
    events = [InboxEvent.from_row(row) for row in rows]
    return sorted(events, key=lambda e: (str(e.tenant_id), e.fingerprint, e.received_at))


async def _fair_claim_sqlite(sql: Statement) -> list[dict[str, Any]]:
    tenants = await sql.rows(
        "SELECT DISTINCT tenant_id FROM alert_event WHERE processed_at IS NULL "  # noqa: S608
        f"LIMIT {CLAIM_LIMIT}"
    )
    share = max(1, CLAIM_LIMIT // max(1, len(tenants)))
    rows: list[dict[str, Any]] = []
    for tenant in tenants:
        rows += await sql.rows(
            f"SELECT {_CLAIMED_COLUMNS} FROM alert_event "  # noqa: S608
            "WHERE tenant_id = :tenant AND processed_at IS NULL "
            f"ORDER BY received_at LIMIT {share}",
            tenant=tenant["tenant_id"],
        )
    return rows


async def _record_failure(event_id: uuid.UUID, error: Exception) -> bool:
    """One more failed attempt of the event, on its own; at the last, quarantined.
    True when the event is still pending (to be tried again)."""
    now = datetime.now(UTC)
    text = f"{type(error).__name__}: {error}"[:MAX_ERROR_TEXT]
    async with in_transaction() as connection:
        rows = await Statement(connection).rows(
            "UPDATE alert_event SET attempts = attempts + 1, error = :error, "
            "outcome = CASE WHEN attempts + 1 >= :most THEN 'failed' ELSE outcome END, "
            "processed_at = CASE WHEN attempts + 1 >= :most THEN :now ELSE processed_at END "
            "WHERE id = :id AND processed_at IS NULL "
            "RETURNING tenant_id, source_format, attempts, outcome",
            error=text,
            most=MAX_EVENT_ATTEMPTS,
            now=now,
            id=event_id,
        )
    if not rows:
        return False  # processed meanwhile (by another drain): nothing to record
    row = rows[0]
    FAILED_ATTEMPTS.inc()
    if row["outcome"] == "failed":
        QUARANTINED.labels(row["source_format"]).inc()
        EVENTS_PROCESSED.labels("quarantined").inc()
        log.error(
            "inbox event %s of tenant %s quarantined after %d failed attempts: %s",
            event_id,
            row["tenant_id"],
            row["attempts"],
            text,
        )
    else:
        log.warning(
            "inbox event %s of tenant %s failed (attempt %d of %d): %s",
            event_id,
            row["tenant_id"],
            row["attempts"],
            MAX_EVENT_ATTEMPTS,
            text,
        )
    return row["outcome"] != "failed"


async def _without_gaps(sql: Statement, rows: list[InboxEvent]) -> list[InboxEvent]:
    """Leave out fingerprints with an older event still pending outside this batch
    (claimed by another job): applying ours first could resolve before it fires."""
    if not rows:
        return rows
    earliest: dict[tuple[str, str], datetime] = {}
    for row in rows:
        key = (str(row.tenant_id), row.fingerprint)
        earliest[key] = min(earliest.get(key, row.received_at), row.received_at)
    older = (
        await AlertEvent.filter(
            processed_at__isnull=True,
            fingerprint__in=list({row.fingerprint for row in rows}),
            received_at__lt=max(earliest.values()),
        )
        .exclude(id__in=[row.id for row in rows])
        .using_db(sql.connection)
        .values_list("tenant_id", "fingerprint", "received_at")
    )
    blocked = {
        (str(tenant_id), fingerprint)
        for tenant_id, fingerprint, received_at in older
        if (str(tenant_id), fingerprint) in earliest
        and received_at < earliest[(str(tenant_id), fingerprint)]
    }
    return [row for row in rows if (str(row.tenant_id), row.fingerprint) not in blocked]


async def _enrichers(sql: Statement, runs: list[Run], now: datetime) -> dict[uuid.UUID, Enricher]:
    tenant_ids = {run.tenant_id for run in runs}
    tenants = await Tenant.filter(id__in=tenant_ids).using_db(sql.connection)
    enrichers = {t.id: await Enricher.for_tenant(t, now) for t in tenants}
    for tenant_id, enricher in enrichers.items():
        # A run is enriched by its latest event: only those can open an alert.
        await enricher.prepare(
            [r.events[-1] for r in runs if r.tenant_id == tenant_id and r.action == "firing"]
        )
    return enrichers


def _action(event: NormalizedEvent) -> str:
    if event.status is None:
        return "ignored"
    if event.status is AlertStatus.RESOLVED and (event.agent_metadata or {}).get("auto_resolved"):
        return "agent"
    return event.status.value


def _runs(rows: list[InboxEvent]) -> list[Run]:
    runs: list[Run] = []
    for row in rows:
        event = NormalizedEvent.from_json(row.normalized)
        action = _action(event)
        last = runs[-1] if runs else None
        same = (
            last is not None
            and last.tenant_id == row.tenant_id
            and last.rows[-1].fingerprint == row.fingerprint
            and last.action == action == "firing"
        )
        if same and last is not None:
            last.rows.append(row)
            last.events.append(event)
        else:
            runs.append(Run(row.tenant_id, action, [row], [event]))
    return runs


def _rounds(runs: list[Run]) -> list[list[Run]]:
    """Round n holds the n-th run of every fingerprint: within a round each
    fingerprint appears once (one upsert may touch it), and rounds apply in order."""
    rounds: list[list[Run]] = []
    seen: dict[tuple[uuid.UUID, str], int] = defaultdict(int)
    for run in runs:
        key = (run.tenant_id, run.rows[0].fingerprint)
        index = seen[key]
        seen[key] += 1
        if index == len(rounds):
            rounds.append([])
        rounds[index].append(run)
    return rounds


async def _apply_round(
    sql: Statement, runs: list[Run], enrichers: dict[uuid.UUID, Enricher], now: datetime
) -> list[Outcome]:
    upserts = [run for run in runs if run.action in ("firing", "acknowledged")]
    outcomes = []
    if upserts:
        firing = [_firing_run(run, enrichers[run.tenant_id]) for run in upserts]
        for run, (alert_id, created) in zip(
            upserts, await store.upsert_firing(sql, firing, now), strict=True
        ):
            outcomes.append(await _after_upsert(sql, run, alert_id, created, now))
    for run in runs:
        if run.action == "resolved":
            event, row = run.events[0], run.rows[0]
            resolved = await store.resolve_open(sql, run.tenant_id, event, row.received_at)
            kind = AlertEventKind.RESOLVED if resolved else None
            outcomes.append(
                _outcome(run, resolved, kind, ["resolved" if resolved else "no_open_alert"])
            )
        elif run.action == "agent":
            outcomes.append(await _agent_resolved(sql, run, enrichers[run.tenant_id], now))
        elif run.action == "ignored":
            outcomes.append(_outcome(run, None, None, ["ignored"]))
        elif run.action not in ("firing", "acknowledged"):
            raise ValueError(f"unknown action {run.action!r}")
    return outcomes


def _firing_run(run: Run, enricher: Enricher) -> store.FiringRun:
    latest = run.events[-1]
    return store.FiringRun(
        tenant_id=run.tenant_id,
        latest=latest,
        enrichment=enricher.enrich(latest),
        count=len(run.rows),
        first_received_at=run.rows[0].received_at,
        last_received_at=run.rows[-1].received_at,
    )


async def _after_upsert(
    sql: Statement, run: Run, alert_id: uuid.UUID, created: bool, now: datetime
) -> Outcome:
    if run.action == "acknowledged" and await store.acknowledge_firing(sql, alert_id, now):
        return _outcome(run, alert_id, AlertEventKind.ACKNOWLEDGED, ["acknowledged"])
    labels = ["created" if created and i == 0 else "repeated" for i in range(len(run.rows))]
    kind = AlertEventKind.CREATED if created else AlertEventKind.UPDATED
    return _outcome(run, alert_id, kind, labels)


async def _agent_resolved(sql: Statement, run: Run, enricher: Enricher, now: datetime) -> Outcome:
    """An agent fixed something: resolve the open alert or store one already resolved,
    and keep what it did as knowledge."""
    event, row = run.events[0], run.rows[0]
    alert_id = None
    for _ in range(store.MAX_INSERT_ATTEMPTS):
        alert_id = await store.resolve_open(sql, run.tenant_id, event, row.received_at)
        if alert_id is None:
            firing_run = _firing_run(run, enricher)
            alert_id = await store.insert_resolved(sql, firing_run, now)
        if alert_id is not None:
            break
    if alert_id is None:
        raise RuntimeError(f"could not record agent alert {event.fingerprint!r}")
    severity = enricher.enrich(event).severity.value
    incident_id = await agent_knowledge.record(sql, run.tenant_id, event, severity, now)
    await store.link_known_solution(sql, alert_id, incident_id)
    return _outcome(run, alert_id, AlertEventKind.RESOLVED, ["agent_resolved"])


def _outcome(
    run: Run, alert_id: uuid.UUID | None, kind: AlertEventKind | None, labels: list[str]
) -> Outcome:
    return Outcome(run.tenant_id, [r.id for r in run.rows], alert_id, kind, labels)


# Audited: an alert opening, resolving or acknowledged at its source. A repeat of a
# firing alert changes only its count (kept in the inbox), so a storm adds no rows.
_AUDITED = {
    AlertEventKind.CREATED: "alert.opened",
    AlertEventKind.RESOLVED: "alert.resolved",
    AlertEventKind.ACKNOWLEDGED: "alert.acknowledged",
}


_AUDIT_COLUMNS = (
    ("id", "uuid"),
    ("tenant_id", "uuid"),
    ("actor_type", "text"),
    ("actor_id", "text"),
    ("actor_name", "text"),
    ("action", "text"),
    ("target_type", "text"),
    ("target_id", "text"),
    ("source", "text"),
    ("data", "jsonb"),
    ("created_at", "timestamptz"),
)


async def _audit(
    sql: Statement, outcomes: list[Outcome], rows: dict[uuid.UUID, InboxEvent], now: datetime
) -> None:
    """One entry per state change of the batch, in its transaction, in one INSERT."""
    entries = []
    for outcome in outcomes:
        action = _AUDITED.get(outcome.kind) if outcome.kind is not None else None
        if action is None or outcome.alert_id is None:
            continue
        row = rows[outcome.event_ids[-1]]
        agent = row.normalized.get("agent_metadata") or {}
        actor_type = ActorType.AGENT if agent else ActorType.API_KEY
        actor_id: str | None = str(agent.get("agent_id") or "agent")[:64] if agent else None
        if not agent and row.api_key_id is not None:
            actor_id = str(row.api_key_id)
        entries.append(
            (
                uuid.uuid4(),
                outcome.tenant_id,
                actor_type.value,
                actor_id,
                str(row.normalized.get("source") or row.source_format)[:200],
                action,
                "alert",
                str(outcome.alert_id),
                "webhook",
                {
                    "format": row.source_format,
                    "fingerprint": row.fingerprint,
                    "events": len(outcome.event_ids),
                    "inbox_event": str(row.id),
                },
                now,
            )
        )
    await sql.insert_rows("audit_log", _AUDIT_COLUMNS, entries)


async def _mark_processed(sql: Statement, outcomes: list[Outcome], now: datetime) -> None:
    """Every event of the batch in one UPDATE, each with its own outcome and alert:
    one statement per event (or per alert) was most of a batch's cost."""
    rows = [
        (event_id, label, outcome.alert_id)
        for outcome in outcomes
        for event_id, label in zip(outcome.event_ids, outcome.labels, strict=True)
    ]
    if not rows:
        return
    if not sql.sqlite:
        # Three arrays: the same statement text for every batch size.
        ids, labels, alerts = (list(column) for column in zip(*rows, strict=True))
        await sql.connection.execute_query(
            "UPDATE alert_event SET processed_at = $1, outcome = given.outcome, "
            "alert_id = given.alert_id, attempts = alert_event.attempts + 1 "
            "FROM unnest($2::uuid[], $3::text[], $4::uuid[]) AS given(id, outcome, alert_id) "
            "WHERE alert_event.id = given.id",
            [now, ids, labels, alerts],
        )
        return
    params: dict[str, object] = {"now": now}
    values = []
    for i, (event_id, label, alert_id) in enumerate(rows):
        params.update({f"e{i}": event_id, f"o{i}": label, f"a{i}": alert_id})
        values.append(f"(:e{i}, :o{i}, :a{i})")
    # Only ":name" markers are interpolated; values are parameters.
    await sql.rows(
        "UPDATE alert_event SET processed_at = :now, outcome = given.outcome, "  # noqa: S608
        "alert_id = given.alert_id, attempts = alert_event.attempts + 1 "
        "FROM (SELECT column1 AS id, column2 AS outcome, column3 AS alert_id "
        f"FROM (VALUES {', '.join(values)}) AS listed) AS given "
        "WHERE alert_event.id = given.id",
        **params,
    )
