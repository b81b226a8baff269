"""A provider outage during a paging storm: bounded work per delivery attempt, a breaker
per tenant and provider shared through the database, parked pages resumed (once, as one
summary) when the provider is back, and given up on after the give-up window.

The provider is the real ``twilio`` SDK talking to a port nothing listens on (connection
refused: unavailable) or to the fake Twilio (a real HTTP server)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from tortoise.exceptions import OperationalError

from opswatch.audit.actor import Actor
from opswatch.escalation import breaker, delivery, resume
from opswatch.escalation.delivery import COMPANION_LIMIT, RESUME_JOB, deliver
from opswatch.escalation.resume import GIVE_UP_AFTER, resume_pending
from opswatch.models import (
    Channel,
    DeliveryStatus,
    EscalationEvent,
    ProviderBreaker,
    Tenant,
)
from opswatch.queue.inprocess import InProcessQueue
from opswatch.runtime import Runtime
from opswatch.tenants.telephony import TelephonyConfig, configure_telephony
from tasks.scheduler import TICKS, Tick
from tests.conftest import BACKEND, free_port
from tests.escalation.support import Setup, settle, two_tier_policy
from tests.factories import TenantKit
from tests.fakes.twilio import FakeTwilio

STORM = 300
QUICK_BACKOFF = (0.2, 0.4, 0.8, 1.6, 2.0)


@dataclasses.dataclass
class Twilio:
    fake: FakeTwilio
    runtime: Runtime
    unreachable: str

    def down(self) -> None:
        self._point_at(self.unreachable)

    def up(self) -> None:
        self._point_at(self.fake.url)

    def _point_at(self, url: str) -> None:
        self.runtime.settings = dataclasses.replace(self.runtime.settings, twilio_api_url=url)

    async def use_for(self, kit: TenantKit, from_number: str) -> None:
        sid, token = self.fake.add_account()
        await configure_telephony(
            tenant=kit.tenant,
            box=self.runtime.secret_box,
            config=TelephonyConfig(
                "twilio", from_number, {"twilio_account_sid": sid, "twilio_auth_token": token}
            ),
            actor=Actor.system("test"),
        )
        await kit.tenant.refresh_from_db()


@pytest.fixture
async def twilio(app_runtime: Runtime, acme: TenantKit) -> AsyncIterator[Twilio]:
    async with FakeTwilio() as fake:
        # Nothing listens there: the SDK's connection is refused, as in an outage.
        provider = Twilio(fake, app_runtime, f"http://127.0.0.1:{free_port()}")
        provider.up()
        await provider.use_for(acme, "+15005550006")
        yield provider


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Breaker openings of a fraction of a second, so that a test can wait them out."""
    monkeypatch.setattr(breaker, "BACKOFF_SECONDS", QUICK_BACKOFF)


async def storm(
    client: httpx.AsyncClient, kit: TenantKit, runtime: Runtime, count: int, prefix: str = "storm"
) -> None:
    """``count`` distinct alerts in one webhook request, processed and escalated."""
    labels = {"cluster": "production-de-01", "namespace": "customer-api"}
    response = await client.post(
        "/api/v1/webhooks/generic",
        json=[
            {
                "title": "PodCrashLoopBackOff",
                "fingerprint": f"{prefix}-{n}",
                "severity": "critical",
                "labels": labels,
            }
            for n in range(count)
        ],
        headers={"X-API-Key": kit.api_key},
    )
    assert response.status_code == 202, response.text
    await settle(runtime)


async def pages_of(setup: Setup, channel: Channel) -> list[EscalationEvent]:
    return list(
        await EscalationEvent.filter(user_id=setup.primary.id, tier=1, channel=channel).order_by(
            "created_at"
        )
    )


async def statuses(setup: Setup, channel: Channel) -> dict[str, int]:
    counted: dict[str, int] = {}
    for event in await pages_of(setup, channel):
        counted[event.status.value] = counted.get(event.status.value, 0) + 1
    return counted


async def twilio_breaker(kit: TenantKit) -> ProviderBreaker | None:
    return await ProviderBreaker.get_or_none(tenant_id=kit.tenant.id, provider="twilio")


async def wait_out_the_breaker(kit: TenantKit) -> None:
    found = await twilio_breaker(kit)
    assert found is not None
    assert found.open_until is not None
    await asyncio.sleep(max(0.0, (found.open_until - datetime.now(UTC)).total_seconds()) + 0.05)


def no_failed_jobs(runtime: Runtime) -> None:
    assert isinstance(runtime.queue, InProcessQueue)
    assert runtime.queue.failures == []


async def test_a_storm_with_the_provider_down_claims_once_and_then_parks_in_constant_work(
    client: httpx.AsyncClient,
    acme: TenantKit,
    app_runtime: Runtime,
    twilio: Twilio,
    query_count: list[str],
) -> None:
    setup = await two_tier_policy(acme, channels=[Channel.PHONE])
    twilio.down()
    await storm(client, acme, app_runtime, STORM)

    no_failed_jobs(app_runtime)  # nothing raised for a queue retry
    pages = await pages_of(setup, Channel.PHONE)
    assert len(pages) == STORM
    assert {p.status for p in pages} == {DeliveryStatus.PENDING}  # none left "sending"
    # An attempt claimed the person's events (one summary's worth) and failed; every
    # other job found the breaker open and touched no row: rows are claimed once per
    # opening, not once per job. (Before: every job claimed and released all of them,
    # 90,000 row updates for 300 alerts.)
    opened = await twilio_breaker(acme)
    assert opened is not None
    assert opened.failures >= 1
    claimed = sum(p.attempts for p in pages)
    assert 0 < claimed <= STORM * opened.failures
    assert opened.open_until is not None
    assert opened.open_until > datetime.now(UTC)
    assert "cannot connect to Twilio" in (opened.last_error or "")

    # Each further attempt while it is open: a few reads, no write, whatever the storm.
    # (On a clock inside the opening: 300 attempts may outlast its 5 s on a busy machine.)
    while_open = opened.open_until - timedelta(seconds=1)
    per_attempt = []
    for page in pages:
        before = len(query_count)
        assert await deliver(page.id, now=while_open) is DeliveryStatus.PENDING
        per_attempt.append(query_count[before:])
    assert max(len(statements) for statements in per_attempt) <= 3
    written = [s for batch in per_attempt for s in batch if not s.lstrip().startswith("SELECT")]
    assert written == []
    assert sum(p.attempts for p in await pages_of(setup, Channel.PHONE)) == claimed
    assert twilio.fake.calls == []


async def test_when_the_provider_is_back_each_channel_gets_one_summary_and_nothing_twice(
    client: httpx.AsyncClient,
    acme: TenantKit,
    app_runtime: Runtime,
    twilio: Twilio,
    quick_backoff: None,
) -> None:
    setup = await two_tier_policy(acme)  # phone and SMS
    twilio.down()
    await storm(client, acme, app_runtime, STORM)
    assert await statuses(setup, Channel.PHONE) == {"pending": STORM}
    assert await statuses(setup, Channel.SMS) == {"pending": STORM}

    twilio.up()
    # The job that opened the breaker woke the resume job for when it may be tried: one
    # probe went through, closed it, and the other channel followed at once.
    await drain(app_runtime)
    [call] = twilio.fake.calls
    [sms] = twilio.fake.messages
    assert f"You have {STORM} alerts." in call["Twiml"]
    assert sms["Body"].startswith(f"[OpsWatch] {STORM} alerts. CRITICAL: PodCrashLoopBackOff")
    assert await statuses(setup, Channel.PHONE) == {"queued": 1, "throttled": STORM - 1}
    assert await statuses(setup, Channel.SMS) == {"queued": 1, "throttled": STORM - 1}
    closed = await twilio_breaker(acme)
    assert closed is not None
    assert (closed.failures, closed.open_until) == (0, None)

    # Every job runs again, and the resume job too: nothing goes out twice.
    for channel in (Channel.PHONE, Channel.SMS):
        for page in await pages_of(setup, channel):
            assert await deliver(page.id) is None
    assert (await resume_pending(settle=timedelta(0))).enqueued == 0
    await drain(app_runtime)
    assert (len(twilio.fake.calls), len(twilio.fake.messages)) == (1, 1)
    no_failed_jobs(app_runtime)


async def test_concurrent_deliveries_for_one_person_never_deadlock(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime, twilio: Twilio
) -> None:
    """Every job of a storm at once, on a closed breaker: the person's lock is taken
    before any row, so no job holds a row another waits for (PostgreSQL reported
    deadlocks in escalation.deliver when each job held its own event first)."""
    setup = await two_tier_policy(acme, channels=[Channel.PHONE])
    twilio.down()
    await storm(client, acme, app_runtime, 100)
    await breaker.close(acme.tenant.id, "twilio", datetime.now(UTC))  # as if it were back
    twilio.up()
    pages = await pages_of(setup, Channel.PHONE)

    outcomes = await asyncio.gather(*(deliver(p.id) for p in pages), return_exceptions=True)

    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert errors == []
    assert not any(isinstance(o, OperationalError) for o in outcomes)
    assert len(twilio.fake.calls) == 1
    assert "You have 100 alerts." in twilio.fake.calls[0]["Twiml"]
    assert await statuses(setup, Channel.PHONE) == {"queued": 1, "throttled": 99}


async def test_concurrent_deliveries_during_an_outage_never_deadlock_and_claim_once(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime, twilio: Twilio
) -> None:
    setup = await two_tier_policy(acme, channels=[Channel.PHONE])
    twilio.down()
    await storm(client, acme, app_runtime, 100)
    await breaker.close(acme.tenant.id, "twilio", datetime.now(UTC))
    pages = await pages_of(setup, Channel.PHONE)
    attempts_before = sum(p.attempts for p in pages)

    outcomes = await asyncio.gather(*(deliver(p.id) for p in pages), return_exceptions=True)

    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    assert await statuses(setup, Channel.PHONE) == {"pending": 100}
    # The first to take the person's lock claimed and failed; the others found the
    # breaker open (before or after the lock) or the send in flight.
    assert sum(p.attempts for p in await pages_of(setup, Channel.PHONE)) == attempts_before + 100


async def test_one_tenants_open_breaker_does_not_park_another_tenants_pages(
    client: httpx.AsyncClient,
    acme: TenantKit,
    globex: TenantKit,
    app_runtime: Runtime,
    twilio: Twilio,
) -> None:
    acme_setup = await two_tier_policy(acme, channels=[Channel.PHONE])
    await twilio.use_for(globex, "+15005550007")
    globex_setup = await two_tier_policy(globex, channels=[Channel.PHONE])
    twilio.fake.fail_next(503)  # acme's page meets the outage
    await storm(client, acme, app_runtime, 1, prefix="acme")
    assert await statuses(acme_setup, Channel.PHONE) == {"pending": 1}

    await storm(client, globex, app_runtime, 1, prefix="globex")
    assert await statuses(globex_setup, Channel.PHONE) == {"queued": 1}
    assert [c["From"] for c in twilio.fake.calls] == ["+15005550007"]
    # Acme's breaker is still open: its next page waits, Globex's has none.
    await storm(client, acme, app_runtime, 1, prefix="acme-again")
    assert await statuses(acme_setup, Channel.PHONE) == {"pending": 2}
    assert len(twilio.fake.calls) == 1
    assert await ProviderBreaker.filter(tenant_id=globex.tenant.id).count() == 0


async def test_the_periodic_job_resumes_parked_pages_once_the_provider_may_be_tried(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime, twilio: Twilio
) -> None:
    """No job woke the resume job here (the breaker was open before the storm, so no
    delivery opened it): the periodic run brings the parked pages back."""
    assert Tick(RESUME_JOB, every_seconds=5) in TICKS
    setup = await two_tier_policy(acme, channels=[Channel.PHONE])
    opened = await breaker.trip(
        acme.tenant.id, "twilio", datetime.now(UTC) - timedelta(seconds=3), "Twilio answered 503"
    )
    assert opened is not None
    await storm(client, acme, app_runtime, 5)
    pages = await pages_of(setup, Channel.PHONE)
    assert [(p.status, p.attempts) for p in pages] == [(DeliveryStatus.PENDING, 0)] * 5
    await asyncio.sleep(max(0.0, (opened.until - datetime.now(UTC)).total_seconds()) + 0.05)
    # Too fresh for the periodic run: their own jobs may still be on their way.
    assert (await resume_pending()).enqueued == 0

    later = datetime.now(UTC) + resume.SETTLE + timedelta(seconds=1)
    assert (await resume_pending(now=later)).enqueued == 1  # the probe
    await drain(app_runtime)
    assert await statuses(setup, Channel.PHONE) == {"queued": 1, "throttled": 4}
    [call] = twilio.fake.calls
    assert "You have 5 alerts." in call["Twiml"]
    no_failed_jobs(app_runtime)


async def test_the_periodic_job_sends_a_page_whose_delivery_job_was_lost(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime, twilio: Twilio
) -> None:
    setup = await two_tier_policy(acme, channels=[Channel.PHONE])
    await storm(client, acme, app_runtime, 1)
    [paged] = await pages_of(setup, Channel.PHONE)
    # Tier 2's page to the manager, recorded, but its job never ran (lost from Redis).
    lost = await EscalationEvent.create(
        tenant_id=acme.tenant.id,
        alert_id=paged.alert_id,  # type: ignore[attr-defined]
        cycle=0,
        tier=2,
        target=str(setup.manager.id),
        user_id=setup.manager.id,
        channel=Channel.PHONE,
        to_address=setup.manager.phone,
    )
    assert (await resume_pending()).enqueued == 0  # its job may still be on the way

    later = datetime.now(UTC) + resume.SETTLE + timedelta(seconds=1)
    assert (await resume_pending(now=later)).enqueued == 1
    await settle(app_runtime)
    await lost.refresh_from_db()
    assert lost.status is DeliveryStatus.QUEUED
    assert [c["To"] for c in twilio.fake.calls] == [paged.to_address, setup.manager.phone]


async def test_pages_pending_past_the_give_up_window_fail_naming_the_outage(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime, twilio: Twilio
) -> None:
    setup = await two_tier_policy(acme, channels=[Channel.PHONE])
    twilio.down()
    await storm(client, acme, app_runtime, 3)
    assert (await resume_pending(now=datetime.now(UTC) + timedelta(minutes=14))).failed == 0

    resumed = await resume_pending(now=datetime.now(UTC) + GIVE_UP_AFTER + timedelta(seconds=1))

    assert resumed.failed == 3
    pages = await pages_of(setup, Channel.PHONE)
    assert {p.status for p in pages} == {DeliveryStatus.FAILED}
    for page in pages:
        assert "twilio was unavailable" in (page.reason or "")
        assert "cannot connect to Twilio" in (page.reason or "")
    twilio.up()
    for page in pages:
        assert await deliver(page.id) is None
    assert twilio.fake.calls == []


async def test_a_summary_covers_a_bounded_number_and_the_rest_follow_a_window_later(
    client: httpx.AsyncClient,
    acme: TenantKit,
    app_runtime: Runtime,
    twilio: Twilio,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(delivery, "COMPANION_LIMIT", 4)
    setup = await two_tier_policy(acme, channels=[Channel.PHONE])
    twilio.down()
    await storm(client, acme, app_runtime, 8)
    await breaker.close(acme.tenant.id, "twilio", datetime.now(UTC))
    twilio.up()
    first, *_rest = await pages_of(setup, Channel.PHONE)

    assert await deliver(first.id) is DeliveryStatus.QUEUED
    script = twilio.fake.calls[0]["Twiml"]
    assert "You have 5 alerts, and more are waiting." in script
    assert "Press 1 to acknowledge these 5. Press 2 to escalate them." in script
    assert await statuses(setup, Channel.PHONE) == {"queued": 1, "throttled": 4, "pending": 3}
    later = datetime.now(UTC) + delivery.THROTTLE + timedelta(seconds=1)
    waiting = [p.id for p in await pages_of(setup, Channel.PHONE) if p.status.value == "pending"]
    assert await deliver(waiting[-1], now=later) is DeliveryStatus.QUEUED
    assert "You have 3 alerts." in twilio.fake.calls[1]["Twiml"]
    assert await statuses(setup, Channel.PHONE) == {"queued": 2, "throttled": 6}
    assert COMPANION_LIMIT == 500  # the limit in production


async def test_the_breaker_opens_once_per_outage_and_doubles_up_to_a_minute(
    acme: TenantKit,
) -> None:
    tenant: Tenant = acme.tenant
    now = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
    # Jobs failing together in one outage open it once.
    opened = await asyncio.gather(
        *(breaker.trip(tenant.id, "vonage", now, "503") for _ in range(5))
    )
    assert sum(1 for o in opened if o is not None) == 1
    seconds = []
    for _ in range(6):
        found = await ProviderBreaker.get(tenant_id=tenant.id, provider="vonage")
        assert found.open_until is not None
        seconds.append((found.open_until - now).total_seconds())
        now = found.open_until
        assert (await breaker.admit(tenant.id, "vonage", now - timedelta(seconds=1))).gate is (
            breaker.Gate.OPEN
        )
        assert await breaker.trip(tenant.id, "vonage", now, "503") is not None
    for opened_for, base in zip(seconds, (5, 10, 20, 40, 60, 60), strict=True):
        assert base <= opened_for <= base * (1 + breaker.JITTER)

    # Half-open: of many jobs at once, one probes.
    found = await ProviderBreaker.get(tenant_id=tenant.id, provider="vonage")
    assert found.open_until is not None
    due = found.open_until
    gates = await asyncio.gather(*(breaker.admit(tenant.id, "vonage", due) for _ in range(5)))
    assert sorted(g.gate.value for g in gates) == ["open"] * 4 + ["probe"]
    assert await breaker.close(tenant.id, "vonage", due)
    assert (await breaker.admit(tenant.id, "vonage", due)).gate is breaker.Gate.CLOSED
    assert (await ProviderBreaker.get(tenant_id=tenant.id, provider="vonage")).failures == 0


async def test_a_probe_that_sends_nothing_hands_its_lease_back(acme: TenantKit) -> None:
    tenant_id = acme.tenant.id
    now = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
    opened = await breaker.trip(tenant_id, "twilio", now, "503")
    assert opened is not None
    probe = await breaker.admit(tenant_id, "twilio", opened.until)
    assert probe.gate is breaker.Gate.PROBE
    assert probe.probe_until is not None
    assert (await breaker.admit(tenant_id, "twilio", opened.until)).gate is breaker.Gate.OPEN
    await breaker.end_probe(tenant_id, "twilio", probe.probe_until)
    assert (await breaker.admit(tenant_id, "twilio", opened.until)).gate is breaker.Gate.PROBE


async def drain(runtime: Runtime) -> None:
    """Wait for every job, also those enqueued for later (the breaker's wake-ups)."""
    assert isinstance(runtime.queue, InProcessQueue)
    await runtime.queue.drain(timeout=30)


async def test_migration_0012_creates_the_breaker_table_and_the_pending_indexes() -> None:
    from tortoise import connections

    connection = connections.get("default")
    if BACKEND == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type IN ('index', 'table')"
    else:
        sql = "SELECT indexname AS name FROM pg_indexes UNION SELECT tablename FROM pg_tables"
    names = {r["name"] for r in await connection.execute_query_dict(sql)}
    assert {
        "provider_breaker",
        "escalation_event_pending_by_person",
        "escalation_event_pending_age",
    } <= names


@pytest.mark.skipif(BACKEND != "postgres", reason="the plan of PostgreSQL")
async def test_the_resume_job_reads_pending_events_through_the_partial_indexes(
    acme: TenantKit,
) -> None:
    from tortoise import connections

    connection = connections.get("default")
    plan = await connection.execute_query_dict(
        "EXPLAIN SELECT id FROM escalation_event WHERE status = 'pending' "
        "AND created_at < now() ORDER BY created_at LIMIT 1000"
    )
    assert "escalation_event_pending_age" in " ".join(r["QUERY PLAN"] for r in plan)
