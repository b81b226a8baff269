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

    .venv/bin/python -m bench.escalation
    .venv/bin/python -m bench.escalation --database-url postgres://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m bench.escalation --ticks 5 --alerts 2000 --json /tmp/escalation.json

Each database runs in a fresh interpreter: Tortoise builds each model's SQL for
the first backend it is initialised with. For PostgreSQL, a role that may create
databases is needed: the run connects to the URL's ``postgres`` database,
creates ``opswatch_bench_<hex>``, uses it, and drops it at the end, also when the
run fails or is interrupted.

Output: progress on stderr; on stdout a Markdown section (the machine, the
commit, the command line, one table per database), and the same figures as JSON
with ``--json PATH``.

The package's parts: ``base`` (defaults, limits, the figures' shapes),
``harness`` (settings, the in-process queue, the stamping bus, retry counting),
``seed`` (the people and the alerts), ``first_tier`` and ``lateness`` (the two
phases), ``databases`` (one database per process), ``report`` (the checks and the
Markdown) and ``__main__`` (the command line).
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/common.py is imported as ``common``, as the other bench scripts do:
# ``python -m bench.escalation`` puts the repository root (where the test suite's
# fake Twilio is imported from), not bench/, on the path, so bench/ is added here.
_BENCH = str(Path(__file__).resolve().parent.parent)
if _BENCH not in sys.path:
    sys.path.insert(0, _BENCH)

MANUAL = __doc__
