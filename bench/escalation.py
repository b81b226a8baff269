"""Escalation engine benchmark: a thousand alerts due at once, and how late a due tier is taken.

It measures the escalation engine (``opswatch.escalation.engine.run_due``) and the
delivery job it feeds (``opswatch.escalation.delivery.deliver``, through the real
``twilio`` SDK against ``tests.fakes.twilio.FakeTwilio``, a real HTTP server in
this process), in the embedded shape: the in-process job queue and event bus, on
the same asyncio loop as the engine. SQLite always runs, on a file in a temporary
directory; PostgreSQL runs when ``--database-url postgres://...`` is given.

Set-up, through the service functions (as an operator's GraphQL calls would):
one tenant with Twilio as its telephony provider (the fake's account, from
+15005550006), and ``--people`` people, each with a distinct E.164 number, their
own weekly roster (started two weeks ago, that person its only member, so on call
now), their own policy (tier 1: that roster, PHONE and SMS, 5 min; tier 2: the
same roster, 10 min) and their own service (distinct cluster and namespace
labels) using that policy.

The ``--alerts`` firing alerts, spread evenly over the services, are written with
one ``Alert.bulk_create`` in the state the ingest pipeline leaves a new alert
under a policy (``opswatch.alerts.store.upsert_firing``): escalation active,
tier 0, cycle 0, the policy and service set, due at once. Not through the
pipeline itself: it enqueues the escalation tick as soon as an alert opens, so
tier 1 would go out batch by batch while the rest were still being ingested,
instead of all of it being due at one instant. Nothing else ticks: the bench
runs no scheduler.

first tier
    At wall time T0, ``run_due(T0)`` takes every due step (batches of 100
    alerts, one transaction each, one event per person and channel, deliver
    jobs enqueued after each commit), then ``queue.drain(delayed=False)``
    waits for the deliver jobs, which run concurrently with the later batches.
    Reported: when ``run_due`` returned (every event recorded) and when the
    queue had no job running; the events handed over by then (status queued,
    sent, or throttled = folded into another event's summary), the p50/p99
    of T0 until each was (its ``updated_at``) and their rate; the calls and
    SMS the fake received. The provider is reached once per person and
    channel and minute (``delivery.THROTTLE``): the first job for a person
    sends one summary of every pending event of theirs it can claim, but an
    event recorded after that (a later batch of the same ``run_due``) waits,
    pending, for the minute to end, its job enqueued again with a delay.
    The bench then waits for those delayed jobs too (unless
    ``--no-throttle-wait``), and reports T0 until every tier-1 event was
    handed over, which is therefore about a minute whenever any had to wait.
lateness (per ``--ticks`` interval)
    The tier-2 step is made due for every alert at instants spread uniformly
    over ``--spread`` seconds, starting two seconds after the due times are
    written (one ``Alert.bulk_update``). Then ``run_due()`` (without a clock:
    it reads the wall clock, like the tick job) is called every tick interval,
    as the scheduler enqueues the tick job (``tasks/escalation.py``:
    ``periodic(TICK_JOB, every_seconds=5)``), until every alert has taken its
    step. A tick that overruns its interval is followed by the next at once;
    ticks never overlap. Lateness of an alert is measured twice: "recorded" =
    the ``created_at`` of its tier-2 EscalationEvent minus its due time; the
    engine stamps every event of a tick with the instant the tick started, so
    this is the scheduling delay alone. "published" = when the alert's
    ESCALATED live event was published (right after its batch committed and
    its deliver jobs were enqueued; noted by wrapping the in-process event
    bus) minus its due time: this adds the time the tick took to reach it.
    The deliver jobs of this phase run as in production (on the same loop,
    competing with the ticks); they find each person reached less than a
    minute ago and wait for the window, which the bench does not: lateness
    measures the engine, not the provider. Before each interval after the
    first, the alerts are put back on tier 1 in a new cycle (the cycle number
    is the run's index), so the tier-2 events of each run are new rows.

Checks: every alert took its tier-2 step, none before it was due, every tier-1
event was handed over (or, with ``--no-throttle-wait``, handed over or waiting
for the window), and no job failed for good. A failed check is listed under the
tables and the exit status is 1. Job runs that failed and were retried are
counted per phase (the queue's warnings, kept off stderr; the first few errors
are in the JSON).

Caveats: the production scheduler wakes once a second (``Scheduler.resolution``)
and enqueues the tick through the job queue, which adds up to a second (plus the
queue's own latency) to what is measured here; in the Redis shape the tick and
the deliveries run in worker processes, not on the engine's loop. The fake
Twilio answers at once on localhost; a real provider's latency adds to every
handover (the queue runs 32 jobs at a time). Which events miss their person's
first summary depends on how the deliver jobs interleave with the engine's
batches, so that count varies from run to run and between the databases. Times
are wall-clock readings (``datetime.now``) of this one process.

Run it from the repository root, with the project's virtualenv::

    .venv/bin/python bench/escalation.py
    .venv/bin/python bench/escalation.py --database-url postgres://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/escalation.py --ticks 5 --alerts 2000 --json /tmp/escalation.json

Each database runs in a fresh interpreter: Tortoise builds each model's SQL for
the first backend it is initialised with. For PostgreSQL, a role that may create
databases is needed: the run connects to the URL's ``postgres`` database,
creates ``opswatch_bench_<hex>``, uses it, and drops it at the end, also when the
run fails or is interrupted.

Output: progress on stderr; on stdout a Markdown section (the machine, the
commit, the command line, one table per database), and the same figures as JSON
with ``--json PATH``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import multiprocessing
import secrets
import shlex
import signal
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from time import perf_counter
from typing import Any
from urllib.parse import urlsplit

from common import (
    HelpFormatter,
    at_least_one,
    create_database,
    drop_database,
    interrupted,
    machine,
    positive,
    say,
    with_database,
)

REPO = Path(__file__).resolve().parent.parent
# The fake Twilio lives in the test suite, which is not installed: import it from
# the checkout (``python bench/escalation.py`` puts bench/, not the root, on the path).
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from opswatch import db, runtime  # noqa: E402
from opswatch.alerts.live import AlertEventKind  # noqa: E402
from opswatch.alerts.shortid import new_short_id  # noqa: E402
from opswatch.audit.actor import Actor  # noqa: E402
from opswatch.config import Settings, load_settings  # noqa: E402
from opswatch.crypto import SecretBox  # noqa: E402
from opswatch.escalation.delivery import THROTTLE  # noqa: E402
from opswatch.escalation.engine import run_due  # noqa: E402
from opswatch.escalation.policies import (  # noqa: E402
    PolicySpec,
    TierSpec,
    assign_policy,
    create_policy,
)
from opswatch.events.base import LiveEvent  # noqa: E402
from opswatch.events.memory import MemoryEventBus  # noqa: E402
from opswatch.models import (  # noqa: E402
    Alert,
    AlertSourceFormat,
    AlertStatus,
    Channel,
    DeliveryStatus,
    EscalationEvent,
    EscalationState,
    Service,
    Severity,
    Tenant,
    User,
)
from opswatch.queue.inprocess import InProcessQueue  # noqa: E402
from opswatch.rosters.rosters import RosterSpec, create_roster  # noqa: E402
from opswatch.tenants.services import create_service  # noqa: E402
from opswatch.tenants.telephony import TelephonyConfig, configure_telephony  # noqa: E402
from opswatch.tenants.tenants import create_tenant  # noqa: E402
from opswatch.tenants.users import create_user  # noqa: E402
from tests.fakes.twilio import FakeTwilio  # noqa: E402

DEFAULT_PEOPLE = 100
DEFAULT_ALERTS = 1000
DEFAULT_SPREAD = 20.0
DEFAULT_TICKS = "5,1"  # parsed by tick_list
# Between writing the tier-2 due times and the first of them.
LEAD = timedelta(seconds=2)
# Waiting for the deliver jobs of a phase, and for stragglers of the tick loop.
DRAIN_TIMEOUT = 300.0
TICK_LOOP_SLACK = 120.0

# Where the in-process queue logs a job that failed and is retried (WARNING).
QUEUE_LOGGER = "opswatch.queue.inprocess"
KEPT_RETRY_MESSAGES = 3

FROM_NUMBER = "+15005550006"
PUBLIC_URL = "http://opswatch.bench"
HANDED_OVER = (DeliveryStatus.QUEUED, DeliveryStatus.SENT, DeliveryStatus.THROTTLED)
ACTOR = Actor.system("bench")

SQLITE = "SQLite"
POSTGRES = "PostgreSQL"


def seconds_between(earlier: datetime, later: datetime) -> float:
    return (later - earlier).total_seconds()


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest rank: the smallest value that at least ``fraction`` of them do not exceed."""
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)), 1) - 1]


# ---------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Spread:
    """p50, p99 and maximum of a set of durations, in seconds."""

    p50_s: float
    p99_s: float
    max_s: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        if not values:
            return None
        return cls(percentile(values, 0.50), percentile(values, 0.99), max(values))


@dataclass(frozen=True)
class Handover:
    """Where the tier-1 events stood at one moment."""

    handed_over: int  # queued, sent, or folded into a summary (throttled)
    last_s: float | None  # T0 until the last handed-over event's updated_at
    spread: Spread | None  # of every handed-over event's updated_at - T0
    waiting: int  # pending: their job comes back when the person's minute is over
    other: int  # neither handed over nor waiting (must be 0)
    calls: int  # received by the fake Twilio so far
    messages: int
    statuses: dict[str, int]


@dataclass(frozen=True)
class FirstTier:
    alerts: int
    events: int  # tier-1 escalation events recorded
    engine_s: float  # T0 until run_due(T0) returned
    drained_s: float  # T0 until no deliver job was running (delayed ones left waiting)
    at_once: Handover  # when drained
    after_window: Handover | None  # once the delayed jobs ran too; None: not waited for
    failed_jobs: int
    retried_jobs: int  # job runs that failed and were retried
    retry_messages: list[str]  # the first few of their errors


@dataclass(frozen=True)
class Lateness:
    tick_s: float
    cycle: int
    alerts: int
    stepped: int
    ticks: int
    longest_tick_s: float
    recorded: Spread | None  # event created_at - due
    published: Spread | None  # ESCALATED published - due
    early: int  # stepped before its due time (must be 0)
    failed_jobs: int
    retried_jobs: int
    retry_messages: list[str]


@dataclass(frozen=True)
class DatabaseRun:
    path: str
    setup_s: float
    first_tier: FirstTier
    lateness: list[Lateness]


# ---------------------------------------------------------------------------
# The runtime: settings, the in-process queue and a bus that notes escalations


class StampingEventBus(MemoryEventBus):
    """The in-process bus, also noting when each alert's first ESCALATED event was published."""

    def __init__(self) -> None:
        super().__init__()
        self.escalated: dict[uuid.UUID, datetime] = {}

    async def publish(self, event: LiveEvent) -> str:
        if event.kind == AlertEventKind.ESCALATED.value:
            self.escalated.setdefault(uuid.UUID(event.data["alert_id"]), datetime.now(UTC))
        return await super().publish(event)


class RetryCounter(logging.Handler):
    """Counts the queue's "job failed; retry" warnings, keeping the first few messages."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno != logging.WARNING:
            return  # "failed for good" (ERROR) is counted from the queue's failures
        self.count += 1
        if len(self.messages) < KEPT_RETRY_MESSAGES:
            self.messages.append(record.getMessage())


@contextmanager
def counted_retries(phase: str) -> Iterator[RetryCounter]:
    """Retried jobs are counted for the report instead of each being logged to stderr."""
    logger = logging.getLogger(QUEUE_LOGGER)
    counter = RetryCounter()
    logger.addHandler(counter)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.propagate = propagate
        if counter.count:
            say(
                f"{phase}: {counter.count} job runs failed and were retried, first: "
                f"{counter.messages[0]}"
            )


def bench_settings(data_dir: str, database_url: str, twilio_url: str) -> Settings:
    # Only these settings, not the caller's OPSWATCH_* environment: a stray
    # OPSWATCH_REDIS_URL would make the queue and the bus Redis's.
    return load_settings(
        {
            "OPSWATCH_DATA_DIR": data_dir,
            "OPSWATCH_DATABASE_URL": database_url,
            "OPSWATCH_SECRET_KEY": secrets.token_urlsafe(48),
            "OPSWATCH_PUBLIC_URL": PUBLIC_URL,
            "OPSWATCH_TWILIO_API_URL": twilio_url,
        }
    )


def install_runtime(settings: Settings, bus: StampingEventBus) -> InProcessQueue:
    """A runtime with a fresh in-process queue (each phase has its own); the queue."""
    queue = InProcessQueue()
    runtime.install(
        runtime.Runtime(
            settings=settings, secret_box=SecretBox(settings.secret_keys), queue=queue, events=bus
        )
    )
    return queue


async def stop_installed_queue() -> None:
    """After a phase failed midway: its jobs stop before the database connections close."""
    try:
        queue = runtime.current().queue
    except RuntimeError:
        return
    if isinstance(queue, InProcessQueue):
        await queue.stop()


async def stop_queue(queue: InProcessQueue) -> int:
    """Wait for the running jobs, cancel the delayed ones; the jobs that failed for good."""
    await queue.drain(DRAIN_TIMEOUT, delayed=False)
    await queue.stop()
    return len(queue.failures)


# ---------------------------------------------------------------------------
# Set-up


@dataclass(frozen=True)
class Person:
    user: User
    service: Service
    policy_id: uuid.UUID


async def bench_tenant(settings: Settings, fake: FakeTwilio) -> Tenant:
    tenant = await create_tenant(name="OpsWatch escalation bench", slug=None, actor=ACTOR)
    sid, token = fake.add_account()
    return await configure_telephony(
        tenant=tenant,
        box=SecretBox(settings.secret_keys),
        config=TelephonyConfig(
            "twilio", FROM_NUMBER, {"twilio_account_sid": sid, "twilio_auth_token": token}
        ),
        actor=ACTOR,
    )


async def create_person(tenant: Tenant, number: int) -> Person:
    """One person with their own roster, two-tier policy and service."""
    name = f"Person {number:03d}"
    created = await create_user(
        tenant=tenant,
        name=name,
        email=f"person{number:03d}@bench.example",
        phone=f"+49151{number:08d}",
        actor=ACTOR,
        with_token=False,
    )
    user = created.user
    roster = await create_roster(
        tenant=tenant,
        actor=ACTOR,
        spec=RosterSpec(
            name=f"Roster {number:03d}",
            timezone="UTC",
            start_date=date.today() - timedelta(weeks=2),
            rotation_length_days=7,
            handoff_time="09:00",
        ),
        member_ids=[str(user.id)],
    )
    channels = [Channel.PHONE, Channel.SMS]
    rosters = [str(roster.id)]
    policy = await create_policy(
        tenant=tenant,
        actor=ACTOR,
        spec=PolicySpec(
            name=f"Policy {number:03d}",
            tiers=[
                TierSpec(delay_minutes=5, channels=channels, roster_ids=rosters),
                TierSpec(delay_minutes=10, channels=channels, roster_ids=rosters),
            ],
        ),
    )
    service = await create_service(
        tenant=tenant,
        name=f"service-{number:03d}",
        cluster=f"cluster-{number:03d}",
        namespace=f"namespace-{number:03d}",
        actor=ACTOR,
    )
    service = await assign_policy(
        tenant=tenant, service_id=str(service.id), policy_id=str(policy.id), actor=ACTOR
    )
    return Person(user, service, policy.id)


def distinct_short_ids(count: int) -> list[str]:
    drawn: set[str] = set()
    while len(drawn) < count:
        drawn.add(new_short_id())
    return list(drawn)


def firing_alert(tenant: Tenant, person: Person, index: int, short_id: str, due: datetime) -> Alert:
    """An alert as the pipeline opens it under a policy: escalation active, tier 1 due."""
    service = person.service
    return Alert(
        id=uuid.uuid4(),
        tenant=tenant,
        fingerprint=f"bench-{index:05d}",
        short_id=short_id,
        title="PodCrashLoopBackOff",
        severity=Severity.CRITICAL,
        status=AlertStatus.FIRING,
        source="bench",
        source_format=AlertSourceFormat.GENERIC,
        labels={"cluster": service.cluster, "namespace": service.namespace},
        first_received_at=due,
        last_received_at=due,
        service_id=service.id,
        oncall_user_id=person.user.id,
        escalation_policy_id=person.policy_id,
        escalation_state=EscalationState.ACTIVE,
        escalation_tier=0,
        escalation_cycle=0,
        escalation_next_at=due,
        created_at=due,
    )


async def insert_alerts(tenant: Tenant, people: list[Person], count: int) -> list[uuid.UUID]:
    """``count`` alerts, alert i on person i mod len(people)'s service, all due now."""
    due = datetime.now(UTC)
    short_ids = distinct_short_ids(count)
    alerts = [
        firing_alert(tenant, people[i % len(people)], i, short_ids[i], due) for i in range(count)
    ]
    await Alert.bulk_create(alerts, batch_size=500)
    return [a.id for a in alerts]


async def seed(settings: Settings, fake: FakeTwilio, args: argparse.Namespace) -> list[uuid.UUID]:
    tenant = await bench_tenant(settings, fake)
    people = [await create_person(tenant, n) for n in range(1, args.people + 1)]
    return await insert_alerts(tenant, people, args.alerts)


# ---------------------------------------------------------------------------
# Phase 1: every alert due at T0


async def handover(t0: datetime, fake: FakeTwilio) -> Handover:
    events = await EscalationEvent.filter(tier=1, cycle=0)
    statuses = Counter(e.status.value for e in events)
    handed = [seconds_between(t0, e.updated_at) for e in events if e.status in HANDED_OVER]
    waiting = statuses[DeliveryStatus.PENDING.value]
    return Handover(
        handed_over=len(handed),
        last_s=max(handed) if handed else None,
        spread=Spread.of(handed),
        waiting=waiting,
        other=len(events) - len(handed) - waiting,
        calls=len(fake.calls),
        messages=len(fake.messages),
        statuses=dict(sorted(statuses.items())),
    )


async def after_window(queue: InProcessQueue, t0: datetime, fake: FakeTwilio) -> Handover:
    """Where the tier-1 events stand once the delayed deliver jobs (and their retries) ran:
    they come back when each person's minute ends."""
    await queue.drain(THROTTLE.total_seconds() + DRAIN_TIMEOUT)
    return await handover(t0, fake)


async def first_tier(
    settings: Settings, bus: StampingEventBus, fake: FakeTwilio, alerts: int, wait: bool
) -> FirstTier:
    queue = install_runtime(settings, bus)
    with counted_retries("first tier") as retries:
        t0 = datetime.now(UTC)
        began = perf_counter()
        await run_due(t0)
        engine_s = perf_counter() - began
        await queue.drain(DRAIN_TIMEOUT, delayed=False)
        drained_s = perf_counter() - began
        at_once = await handover(t0, fake)
        if at_once.waiting:
            say(f"first tier: {at_once.waiting} events wait for their person's throttle window")
        later = await after_window(queue, t0, fake) if wait and at_once.waiting else None
        failed = await stop_queue(queue)
    return FirstTier(
        alerts=alerts,
        events=sum(at_once.statuses.values()),
        engine_s=engine_s,
        drained_s=drained_s,
        at_once=at_once,
        after_window=later,
        failed_jobs=failed,
        retried_jobs=retries.count,
        retry_messages=retries.messages,
    )


# ---------------------------------------------------------------------------
# Phase 2: tier 2 due at staggered instants, taken by periodic ticks


async def stagger_tier_two(
    alert_ids: list[uuid.UUID], cycle: int, spread: float
) -> dict[uuid.UUID, datetime]:
    """Put every alert on tier 1 of ``cycle`` with tier 2 due within ``spread`` seconds
    from ``LEAD`` after now; the due time of each."""
    start = datetime.now(UTC) + LEAD
    step = timedelta(seconds=spread / len(alert_ids))
    due = {alert_id: start + i * step for i, alert_id in enumerate(alert_ids)}
    alerts = await Alert.filter(id__in=alert_ids)
    for alert in alerts:
        alert.escalation_state = EscalationState.ACTIVE
        alert.escalation_tier = 1
        alert.escalation_cycle = cycle
        alert.escalation_next_at = due[alert.id]
    await Alert.bulk_update(
        alerts,
        fields=["escalation_state", "escalation_tier", "escalation_cycle", "escalation_next_at"],
        batch_size=500,
    )
    if datetime.now(UTC) > start:
        raise RuntimeError(f"writing the due times took longer than {LEAD.total_seconds()} s")
    return due


@dataclass
class TickLoop:
    ticks: int = 0
    longest_s: float = 0.0


async def tick_until_stepped(
    alert_ids: list[uuid.UUID], cycle: int, tick: float, give_up_after: float
) -> TickLoop:
    """``run_due()`` every ``tick`` seconds until every alert took tier 2 of ``cycle``."""
    waiting = set(alert_ids)
    loop = TickLoop()
    began = perf_counter()
    next_tick = began
    while waiting and perf_counter() - began < give_up_after:
        await asyncio.sleep(max(0.0, next_tick - perf_counter()))
        tick_began = perf_counter()
        steps = await run_due()
        took = perf_counter() - tick_began
        loop.ticks += 1
        loop.longest_s = max(loop.longest_s, took)
        waiting -= {s.alert_id for s in steps if s.tier == 2 and s.cycle == cycle}
        # An overrunning tick is followed by the next at once, not by a burst of them.
        next_tick = max(next_tick + tick, perf_counter())
    return loop


async def tier_two_recorded(cycle: int) -> dict[uuid.UUID, datetime]:
    """When the engine recorded each alert's tier-2 step of ``cycle``: its events' created_at."""
    recorded: dict[uuid.UUID, datetime] = {}
    rows = await EscalationEvent.filter(tier=2, cycle=cycle).values_list("alert_id", "created_at")
    for alert_id, created_at in rows:
        key = uuid.UUID(str(alert_id))
        recorded[key] = min(created_at, recorded.get(key, created_at))
    return recorded


async def lateness(
    settings: Settings,
    bus: StampingEventBus,
    alert_ids: list[uuid.UUID],
    cycle: int,
    tick: float,
    spread: float,
) -> Lateness:
    queue = install_runtime(settings, bus)
    bus.escalated.clear()
    with counted_retries(f"tick {tick:g} s") as retries:
        due = await stagger_tier_two(alert_ids, cycle, spread)
        give_up_after = LEAD.total_seconds() + spread + TICK_LOOP_SLACK + 10 * tick
        loop = await tick_until_stepped(alert_ids, cycle, tick, give_up_after)
        failed = await stop_queue(queue)
    recorded = await tier_two_recorded(cycle)
    recorded_late = [seconds_between(due[a], at) for a, at in recorded.items()]
    published_late = [seconds_between(due[a], at) for a, at in bus.escalated.items() if a in due]
    return Lateness(
        tick_s=tick,
        cycle=cycle,
        alerts=len(alert_ids),
        stepped=len(recorded),
        ticks=loop.ticks,
        longest_tick_s=loop.longest_s,
        recorded=Spread.of(recorded_late),
        published=Spread.of(published_late),
        early=sum(1 for late in recorded_late if late < 0),
        failed_jobs=failed,
        retried_jobs=retries.count,
        retry_messages=retries.messages,
    )


# ---------------------------------------------------------------------------
# One database, in its own process


async def measure_database(path: str, database_url: str, args: argparse.Namespace) -> DatabaseRun:
    with tempfile.TemporaryDirectory(prefix="opswatch-bench-escalation-") as data_dir:
        async with FakeTwilio() as fake:
            settings = bench_settings(data_dir, database_url, fake.url)
            await db.upgrade(settings.database_url)
            await db.connect(settings.database_url)
            bus = StampingEventBus()
            try:
                setup_queue = install_runtime(settings, bus)
                began = perf_counter()
                alert_ids = await seed(settings, fake, args)
                setup_s = perf_counter() - began
                await stop_queue(setup_queue)
                say(f"{path}: set up {args.people} people and {len(alert_ids)} alerts")
                wait = not args.no_throttle_wait
                first = await first_tier(settings, bus, fake, len(alert_ids), wait)
                say(f"{path}: first tier: {first.at_once.handed_over} events handed over")
                late = []
                for cycle, tick in enumerate(args.ticks):
                    late.append(await lateness(settings, bus, alert_ids, cycle, tick, args.spread))
                    say(f"{path}: tick {tick:g} s: {late[-1].stepped} alerts stepped")
                return DatabaseRun(path, setup_s, first, late)
            finally:
                await stop_installed_queue()
                runtime.install(None)
                await bus.stop()
                await db.disconnect()


def measure_database_in_child(
    path: str, database_url: str, args: argparse.Namespace
) -> dict[str, Any]:
    """``measure_database`` in a worker process; the run as a plain dict to pickle back."""
    return asdict(asyncio.run(measure_database(path, database_url, args)))


def run_database(path: str, database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    # A fresh interpreter per database: Tortoise builds each model's SQL for the
    # first backend it is initialised with, and would send SQLite's to PostgreSQL.
    # Leaving the pool terminates the worker, also when we are interrupted.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(measure_database_in_child, (path, database_url, args))


def run_postgres(url: str, args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """The run on a fresh database, dropped afterwards; the run and the server's version."""
    admin_url = with_database(url, "postgres")
    name = f"opswatch_bench_{secrets.token_hex(6)}"
    version = asyncio.run(create_database(admin_url, name))
    try:
        # Tortoise knows the scheme as postgres://, not postgresql://.
        return run_database(POSTGRES, with_database(url, name, "postgres"), args), version
    finally:
        asyncio.run(drop_database(admin_url, name))


def run_databases(args: argparse.Namespace) -> tuple[list[dict[str, Any]], str | None]:
    """SQLite, then PostgreSQL if asked for; the runs and PostgreSQL's version."""
    with tempfile.TemporaryDirectory(prefix="opswatch-bench-sqlite-") as directory:
        sqlite_url = f"sqlite://{Path(directory) / 'bench.sqlite3'}"
        runs = [run_database(SQLITE, sqlite_url, args)]
    if args.database_url is None:
        return runs, None
    postgres_run, version = run_postgres(args.database_url, args)
    return [*runs, postgres_run], version


# ---------------------------------------------------------------------------
# Report


def first_tier_problems(path: str, f: Mapping[str, Any]) -> list[str]:
    final = f["after_window"] or f["at_once"]
    problems = []
    if final["other"]:
        statuses = ", ".join(f"{name} {count:,}" for name, count in final["statuses"].items())
        problems.append(
            f"{path}, first tier: {final['other']:,} events neither handed over nor waiting "
            f"({statuses})"
        )
    if f["after_window"] is not None and final["waiting"]:
        problems.append(
            f"{path}, first tier: {final['waiting']:,} events still pending after the window"
        )
    if f["failed_jobs"]:
        problems.append(f"{path}, first tier: {f['failed_jobs']:,} jobs failed for good")
    return problems


def lateness_problems(path: str, late: Mapping[str, Any]) -> list[str]:
    phase = f"{path}, tick {late['tick_s']:g} s"
    problems = []
    if late["stepped"] < late["alerts"]:
        problems.append(f"{phase}: {late['alerts'] - late['stepped']:,} alerts never stepped")
    if late["early"]:
        problems.append(f"{phase}: {late['early']:,} alerts stepped before they were due")
    if late["failed_jobs"]:
        problems.append(f"{phase}: {late['failed_jobs']:,} jobs failed for good")
    return problems


def problems_of(runs: list[dict[str, Any]]) -> list[str]:
    found = []
    for run in runs:
        found += first_tier_problems(run["path"], run["first_tier"])
        for late in run["lateness"]:
            found += lateness_problems(run["path"], late)
    return found


def secs(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.3f} s"


def number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def calls_text(handover: Mapping[str, Any]) -> str:
    return f"{handover['calls']:,} / {handover['messages']:,}"


def retried_text(phase: Mapping[str, Any]) -> str:
    if not phase["retried_jobs"]:
        return "0"
    # The first error, without the pipes that would end a Markdown cell.
    first = phase["retry_messages"][0].replace("|", "/")
    return f"{phase['retried_jobs']:,} (first: {first})"


def spread_text(spread: Mapping[str, float] | None) -> str:
    if spread is None:
        return "n/a"
    return f"{secs(spread['p50_s'])} / {secs(spread['p99_s'])} / {secs(spread['max_s'])}"


def every_handed_over(f: Mapping[str, Any]) -> str:
    """T0 until the last tier-1 event was handed over, if every one was."""
    final = f["after_window"] or f["at_once"]
    if final["waiting"] == 0 and final["other"] == 0:
        return secs(final["last_s"])
    if f["after_window"] is None:
        return "not waited for (--no-throttle-wait)"
    return f"never: {final['waiting']:,} pending, {final['other']:,} other"


def first_tier_rows(f: Mapping[str, Any]) -> list[tuple[str, str]]:
    at_once, after = f["at_once"], f["after_window"]
    final = after or at_once
    per_s = at_once["handed_over"] / at_once["last_s"] if at_once["last_s"] else None
    rows = [
        ("alerts due at T0", f"{f['alerts']:,}"),
        ("tier-1 events recorded (per alert: its person on PHONE and on SMS)", f"{f['events']:,}"),
        ("T0 → `run_due(T0)` returned (every event recorded)", secs(f["engine_s"])),
        ("T0 → deliver jobs drained (throttled ones left waiting)", secs(f["drained_s"])),
        (
            "events handed over by then (queued, sent, or folded as throttled)",
            f"{at_once['handed_over']:,} of {f['events']:,}",
        ),
        ("T0 → handed over, p50 / p99 / max of those", spread_text(at_once["spread"])),
        ("those events per second (count / T0 → last of them)", number(per_s)),
        ("calls / SMS received by the fake by then", calls_text(at_once)),
        ("events waiting for their person's throttle window", f"{at_once['waiting']:,}"),
        ("**T0 → every tier-1 event handed over**", every_handed_over(f)),
    ]
    if after is not None:
        rows.append(("calls / SMS received by the fake in all", calls_text(after)))
    statuses = ", ".join(f"{name} {count:,}" for name, count in final["statuses"].items())
    return [
        *rows,
        ("events neither handed over nor waiting (must be 0)", f"{final['other']:,}"),
        ("event statuses at the end", statuses),
        ("job runs failed and retried", retried_text(f)),
        ("jobs failed for good", f"{f['failed_jobs']:,}"),
    ]


def lateness_rows(late: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        ("alerts stepped to tier 2", f"{late['stepped']:,} of {late['alerts']:,}"),
        ("ticks / longest tick", f"{late['ticks']:,} / {secs(late['longest_tick_s'])}"),
        ("lateness recorded, p50 / p99 / max", spread_text(late["recorded"])),
        ("lateness published, p50 / p99 / max", spread_text(late["published"])),
        ("stepped before due (must be 0)", f"{late['early']:,}"),
        ("job runs failed and retried", retried_text(late)),
        ("jobs failed for good", f"{late['failed_jobs']:,}"),
    ]


def database_table(run: Mapping[str, Any]) -> list[str]:
    rows = [("set-up", "people, rosters, policies, services and alerts", secs(run["setup_s"]))]
    rows += [("first tier", figure, value) for figure, value in first_tier_rows(run["first_tier"])]
    for late in run["lateness"]:
        phase = f"lateness, tick {late['tick_s']:g} s"
        rows += [(phase, figure, value) for figure, value in lateness_rows(late)]
    out = [f"### {run['path']}", "", "| phase | figure | value |", "|---|---|---:|"]
    out += [f"| {phase} | {figure} | {value} |" for phase, figure, value in rows]
    return [*out, ""]


def render(report: Mapping[str, Any]) -> str:
    m = report["machine"]
    ticks = ", ".join(f"{t:g} s" for t in report["ticks_s"])
    out = [
        "## Escalation engine",
        "",
        f"- machine: {m['nproc']} CPUs (nproc), {m['cpu']}, {m['memory']} memory",
        f"- Python {m['python']}, PostgreSQL {m['postgresql']}",
        f"- commit: {m['commit']}",
        f"- command: `{report['command']}`",
        f"- {report['people']} people, each with a roster, a two-tier policy (PHONE + SMS) and "
        f"a service; {report['alerts']} firing alerts spread evenly over the services; "
        "embedded shape (in-process queue and bus), Twilio = the test suite's fake over HTTP "
        "through the real SDK",
        "- first tier: every alert due at T0, `run_due(T0)` then the deliver jobs; "
        "handed over = status queued, sent or throttled (folded into a summary)",
        f"- lateness: tier 2 due at instants spread over {report['spread_s']:g} s, "
        f"`run_due()` every {ticks}; recorded = event `created_at` (the tick's start) - due, "
        "published = ESCALATED live event published (after the batch's commit) - due",
        "",
    ]
    for run in report["runs"]:
        out += database_table(run)
    if report["problems"]:
        out += ["**Failed checks:**", ""] + [f"- {problem}" for problem in report["problems"]]
    else:
        out.append("Every check passed.")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# Main


def tick_list(raw: str) -> tuple[float, ...]:
    return tuple(positive(part) for part in raw.split(",") if part.strip())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/escalation.py",
        # The module docstring is the manual: --help shows it whole, line breaks kept.
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--people",
        type=at_least_one,
        default=DEFAULT_PEOPLE,
        help="people, each with their own roster, policy and service",
    )
    parser.add_argument(
        "--alerts",
        type=at_least_one,
        default=DEFAULT_ALERTS,
        help="firing alerts, spread evenly over the services",
    )
    parser.add_argument(
        "--spread",
        type=positive,
        default=DEFAULT_SPREAD,
        help="seconds over which the tier-2 due times are spread uniformly",
    )
    parser.add_argument(
        "--ticks",
        type=tick_list,
        default=DEFAULT_TICKS,
        metavar="S[,S...]",
        help="tick intervals in seconds, one lateness run each (production ticks every 5 s)",
    )
    parser.add_argument(
        "--no-throttle-wait",
        action="store_true",
        help="do not wait for the first-tier events that wait out their person's throttle "
        "window (a minute after the first call); their figure is then not reported",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="also measure on PostgreSQL, e.g. postgres://postgres@127.0.0.1:5432/postgres: "
        "a role that may create databases; a fresh opswatch_bench_<hex> database is created "
        "beside the URL's database and dropped at the end (SQLite always runs)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    args = parser.parse_args(argv)
    if not args.ticks:
        parser.error("--ticks: give at least one interval")
    if args.people > args.alerts:
        parser.error("--people: give at most as many people as alerts")
    if args.database_url is not None:
        scheme = urlsplit(args.database_url).scheme
        if scheme not in ("postgres", "postgresql"):
            parser.error(f"--database-url must be a postgres:// URL, not {scheme}://")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(sys.orig_argv if argv is None else ["bench/escalation.py", *argv])
    # SIGTERM unwinds like Ctrl-C, so the worker is stopped and the database dropped.
    signal.signal(signal.SIGTERM, interrupted)
    try:
        runs, postgres_version = run_databases(args)
    except KeyboardInterrupt:
        say("interrupted; everything started was stopped and removed")
        return 130
    report = {
        "machine": machine(postgres_version),
        "command": command,
        "people": args.people,
        "alerts": args.alerts,
        "spread_s": args.spread,
        "ticks_s": list(args.ticks),
        "runs": runs,
        "problems": problems_of(runs),
    }
    print(render(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        say(f"wrote {args.json}")
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
