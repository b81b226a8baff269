"""A circuit breaker per tenant and provider, shared by every process through the database.

When a provider fails (it refused the connection, answered 5xx or 429, or did
not answer in time), the breaker opens: until ``open_until`` no delivery job of
that tenant asks that provider, so an outage costs one failed request per
opening instead of one per pending page. Openings grow from 5 s, doubling, to
60 s (plus up to a quarter more, so that the tenants of one provider's outage
do not all try again at the same instant). Once an opening has passed, the
breaker is half-open: one job at a time takes the probe lease and sends; if
that goes through, the breaker closes and the pages that waited are resumed.

Every change is one conditional statement, so concurrent jobs in any number of
processes never need to read the row first: the jobs that fail together in one
outage open it once (a failure counts only while the breaker is closed or
half-open), and only one job gets the probe lease.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from tortoise.backends.base.client import BaseDBAsyncClient

from opswatch.models import ProviderBreaker
from opswatch.sql import statement

# How long each opening in a row lasts; the last one repeats.
BACKOFF_SECONDS: tuple[float, ...] = (5.0, 10.0, 20.0, 40.0, 60.0)
JITTER = 0.25
# Longer than a send can take (its timeout is 10 s): a probe still running keeps its
# lease, and a probe whose job died frees the provider for another after this.
PROBE_LEASE = timedelta(seconds=30)


class Gate(Enum):
    CLOSED = "closed"  # send
    PROBE = "probe"  # send, as the one try of a half-open breaker
    OPEN = "open"  # leave it pending


@dataclass(frozen=True)
class Admission:
    gate: Gate
    probe_until: datetime | None = None  # the lease taken, for ending it


@dataclass(frozen=True)
class Opened:
    failures: int
    until: datetime


async def admit(tenant_id: uuid.UUID, provider: str, now: datetime) -> Admission:
    """May a job send through this provider now? One read when closed or open; one
    conditional UPDATE more when half-open, which only one job wins."""
    breaker = await ProviderBreaker.get_or_none(tenant_id=tenant_id, provider=provider)
    if breaker is None or breaker.open_until is None:
        return Admission(Gate.CLOSED)
    if breaker.open_until > now:
        return Admission(Gate.OPEN)
    lease = now + PROBE_LEASE
    taken = await statement().rows(
        "UPDATE provider_breaker SET probe_until = :lease, updated_at = :now "
        "WHERE tenant_id = :tenant AND provider = :provider "
        "AND open_until IS NOT NULL AND open_until <= :now "
        "AND (probe_until IS NULL OR probe_until <= :now) RETURNING id",
        lease=lease,
        now=now,
        tenant=tenant_id,
        provider=provider,
    )
    return Admission(Gate.PROBE, lease) if taken else Admission(Gate.OPEN)


async def trip(tenant_id: uuid.UUID, provider: str, now: datetime, error: str) -> Opened | None:
    """Open the breaker after a failed send; None when it was open already (another
    job's failure in the same outage opened it)."""
    untils = [now + _jittered(seconds) for seconds in BACKOFF_SECONDS]
    sql_of = statement()
    # PostgreSQL would type the parameters of a CASE as text, SQLite has no such cast.
    cast = "" if sql_of.sqlite else "::timestamptz"
    # Only numbers and the cast are interpolated; the instants travel as parameters.
    steps = " ".join(f"WHEN {n} THEN :until{n}{cast}" for n in range(len(BACKOFF_SECONDS) - 1))
    sql = (
        "INSERT INTO provider_breaker "  # noqa: S608
        "(id, tenant_id, provider, failures, open_until, probe_until, last_error, "
        "created_at, updated_at) "
        "VALUES (:id, :tenant, :provider, 1, :until0, NULL, :error, :now, :now) "
        "ON CONFLICT (tenant_id, provider) DO UPDATE SET "
        "failures = provider_breaker.failures + 1, "
        f"open_until = CASE provider_breaker.failures {steps} ELSE :until_last{cast} END, "
        "probe_until = NULL, last_error = excluded.last_error, updated_at = excluded.updated_at "
        "WHERE provider_breaker.open_until IS NULL OR provider_breaker.open_until <= :now "
        "RETURNING failures"
    )
    params = {f"until{n}": until for n, until in enumerate(untils[:-1])}
    rows = await sql_of.rows(
        sql,
        id=uuid.uuid4(),
        tenant=tenant_id,
        provider=provider,
        error=error[:1000],
        now=now,
        until_last=untils[-1],
        **params,
    )
    if not rows:
        return None
    failures = int(rows[0]["failures"])
    return Opened(failures, untils[min(failures, len(untils)) - 1])


async def close(tenant_id: uuid.UUID, provider: str, now: datetime) -> bool:
    """The provider took a message: close the breaker. True when it was not closed."""
    rows = await statement().rows(
        "UPDATE provider_breaker SET failures = 0, open_until = NULL, probe_until = NULL, "
        "updated_at = :now WHERE tenant_id = :tenant AND provider = :provider "
        "AND (failures > 0 OR open_until IS NOT NULL OR probe_until IS NOT NULL) RETURNING id",
        now=now,
        tenant=tenant_id,
        provider=provider,
    )
    return bool(rows)


async def end_probe(tenant_id: uuid.UUID, provider: str, lease: datetime) -> None:
    """A probe that did not reach the provider (nothing left to send, or the person
    was reached a moment ago) gives its lease back, for the next job to try."""
    await statement().rows(
        "UPDATE provider_breaker SET probe_until = NULL "
        "WHERE tenant_id = :tenant AND provider = :provider AND probe_until = :lease",
        tenant=tenant_id,
        provider=provider,
        lease=lease,
    )


async def still_admits(
    admission: Admission,
    tenant_id: uuid.UUID,
    provider: str,
    now: datetime,
    connection: BaseDBAsyncClient,
) -> bool:
    """Read again once the person's lock is held: a job admitted just before another
    one's failure opened the breaker must not claim that person's events again."""
    found = (
        await ProviderBreaker.filter(tenant_id=tenant_id, provider=provider)
        .using_db(connection)
        .first()
    )
    if found is None or found.open_until is None:
        return True
    if found.open_until > now:
        return False
    return admission.probe_until is not None and found.probe_until == admission.probe_until


def gate_at(breaker: ProviderBreaker | None, now: datetime) -> Gate:
    """What ``admit`` would answer, read from a row already loaded (the resume job)."""
    if breaker is None or breaker.open_until is None:
        return Gate.CLOSED
    if breaker.open_until > now or (breaker.probe_until is not None and breaker.probe_until > now):
        return Gate.OPEN
    return Gate.PROBE


def _jittered(seconds: float) -> timedelta:
    return timedelta(seconds=seconds * (1 + random.uniform(0, JITTER)))
