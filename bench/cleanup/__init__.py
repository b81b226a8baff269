"""Data retention benchmark: ``opswatch cleanup`` over a million resolved alerts on
PostgreSQL, and what it does to webhook ingest running at the same time.

It measures the retention run (``opswatch.audit.cleanup.cleanup``, started the way a
CronJob starts it: ``opswatch cleanup --json --as-of <instant>``) on a database
holding ``--alerts`` resolved alerts past the tenant's retention, and the ingest
latency of the production shape (``opswatch api`` + ``opswatch worker``, Redis)
before, during and after that run.

Set-up, in a fresh PostgreSQL database ``opswatch_bench_<hex>`` and a Redis
namespace of its own: ``opswatch db upgrade``, then a tenant (default retention:
90 days of resolved alerts, 365 days of audit entries) and an API key through
``opswatch tenant create`` and ``opswatch apikey create`` (``--json``). The data is
then written with set-based SQL (``INSERT ... SELECT FROM generate_series``; ids
are ``md5(...)::uuid`` of the run's salt and the row's fingerprint, so an inbox
event names its alert without a join), relative to ``as-of``, the instant the run
started (whole seconds, UTC):

============================  ===========================  ==============================
what                          how many (1M alerts)         age before as-of
============================  ===========================  ==============================
old resolved alerts           ``--alerts`` (1,000,000)     resolved 400 to 100 days: go
old resolved, in an incident  100                          resolved 400 to 100 days: stay
recent resolved alerts        alerts / 50 (20,000)         resolved 80 to 1 days: stay
firing alerts                 alerts / 200 (5,000)         last seen 500 to 0 days: stay
============================  ===========================  ==============================

Every alert has one inbox event (``alert_event``, processed, received two hours
before the alert's last instant) and every fifth one escalation event (SMS, sent).
Besides: alerts / 100 processed inbox events that opened no alert (outcome
ignored) 400 to 100 days old (go) and alerts / 1,000 of them 80 to 1 days old
(stay); as many notices (``notification``), old and recent; ``--audit`` audit
entries 1,000 to 366 days old (archived) and audit / 10 of them 364 to 1 days old
(stay). Fingerprints (``old-17``, ``recent-3``, ...) name the category of every
row; short ids are a category letter and nine digits, which the 6-character ids
OpsWatch draws can never equal. Seeding is timed per statement, then the whole
database is ``VACUUM (ANALYZE)``-ed and a ``CHECKPOINT`` writes the seeding's dirty
pages (else a checkpoint forced by its WAL lands in the baseline and stalls it).

Before anything runs, the statements of ``opswatch/audit/cleanup.py`` (written out
again here: keep them in step with that file) are run under ``EXPLAIN (ANALYZE,
BUFFERS)`` with the tenant and cutoffs of the run, the first batch of 1,000
alerts, in a transaction that is rolled back; the plans go into the report (scan
types, index names, foreign-key trigger times, execution time). The batch selects
are explained again after the run, when their indexes lead with the rows just
deleted (the server may run without autovacuum: its settings are reported).

Then the production shape starts on free loopback ports (no scheduler: its first
tick would run the daily cleanup itself), and this process posts distinct alerts
to ``POST /api/v1/webhooks/generic`` at ``--rate`` per second (open loop: on
schedule whatever the answers take, never more than 512 waiting; a sender more
than a second behind its schedule skips ahead instead of bursting). Phases:

idle
    ``--idle-seconds`` with the servers up and no load: their CPU alone (polling,
    ticking), for the CPU table only.
warm-up
    ``--warmup-seconds``, not reported.
baseline
    ``--baseline-seconds`` of the load alone.
during
    ``opswatch cleanup --json --as-of <as-of>`` runs as a subprocess; the phase
    lasts from its start to its exit, which is the cleanup's wall time (including
    the interpreter's start-up; the report's own ``seconds`` is the in-process
    time). Deleted alerts, escalation and inbox events, notices and archived audit
    entries are read from its JSON. Reported again in two parts: "start-up", until
    the first alert is seen deleted (the command starting, connecting, counting
    the alerts kept for incidents; sampled, so up to about 2 s late), and
    "deleting", from then until the command exits.
after
    ``--after-seconds`` more of the load alone (0: none).

For every phase: requests sent per second, answered 202 (``accepted/s`` = 202
answers / phase length), the 202 answer time p50/p99, and POST -> processed: from
the client's wall clock just before the POST to the inbox row's ``processed_at``
(the same machine's clock), p50/p99/max, read from the database once the backlog
has drained. A request belongs to the phase it was sent in. Also per phase: the
checkpoints the server took and the buffers backends had to write themselves
(``pg_stat_bgwriter``, server-wide), and CPU in cores per component, read from
/proc once a second (api, worker, the PostgreSQL backends of api and worker, the
cleanup process, its PostgreSQL backend (found by ``application_name``),
PostgreSQL's background processes, Redis, the load generator = this process with
its own database connection, and everything else on the machine); a process that
ended misses at most its last second. **The load generator runs on the same
cores as everything else.**

While the cleanup runs, ``pg_stat_user_tables`` is sampled every second: rows
deleted per table and audit entries archived, which give the progress over time,
the length of each stage (alerts, then audit) and whether batches slow down as
the run goes (alerts/s between 5% and 25% of the alerts vs between 75% and 95%).

Checks, afterwards, per category: every old alert, its inbox and escalation events,
the old orphan inbox events and old notices are gone; everything else that was
seeded is there (the alerts kept for their incident too); every alert the load
posted exists and every posted event was processed; the report's counts equal
what was seeded; the audit log: the seeded old entries are all in the archive
and none left live, ``live before (not counting the load's entries) + the load's
entries + 1 (the cleanup's own report) == live after + archive after``. A failed
check is listed and the exit status is 1.

Run it from the repository root, with the project's virtualenv::

    .venv/bin/python -m bench.cleanup --alerts 20000 --audit 5000    # a minute
    .venv/bin/python -m bench.cleanup --json /tmp/cleanup.json         # 1M alerts, minutes
    .venv/bin/python -m bench.cleanup --alerts 200000 --rate 400 --baseline-seconds 30

Requirements: PostgreSQL 13 or later on 127.0.0.1 (``--postgres-url``, a role that
may create databases), Redis on 127.0.0.1 (``--redis-url``). Everything it starts
it removes, also when it fails or is interrupted (Ctrl-C, SIGTERM): the servers and
the cleanup process (by process group), the Redis namespace's keys, and the
database, unless ``--keep`` (then the database and the server logs stay, and
their names are printed). ``--batch N`` is passed to ``opswatch cleanup`` only if
its ``--help`` offers ``--batch``; otherwise giving it is an error, and the batch
is the module's default.

Output: progress on stderr; on stdout a Markdown section (the machine, the commit
and a hash of ``opswatch/audit/cleanup.py``, the command, the seeding, the cleanup,
ingest per phase, CPU, the plans, the checks), and the raw figures as JSON with
``--json PATH``.

The package's parts: ``base`` (defaults), ``seed`` (the seed statements),
``plans`` (the cleanup's statements under EXPLAIN), ``load`` (the steady webhook
load), ``sampling`` (counters and CPU once a second), ``cleanup_run`` (the
``opswatch cleanup`` process), ``checks`` (what is left, the checks), ``figures``
(per phase, the cleanup's progress), ``bench`` (the whole run), ``report`` and
``__main__`` (the command line). The servers, load client and CPU meter are the
ingest benchmark's (``bench/ingest``).
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/common.py and bench/ingest are imported as ``common`` and ``ingest``, as
# the other bench scripts do: ``python -m bench.cleanup`` puts the repository root,
# not bench/, on the path, so bench/ is added here.
_BENCH = str(Path(__file__).resolve().parent.parent)
if _BENCH not in sys.path:
    sys.path.insert(0, _BENCH)

import ingest  # noqa: E402
from common import say  # noqa: E402

# The ingest package's helpers (Service, redis_cleanup) report through its own
# ``say``; one format for every progress line: the time of day, as common.say prints it.
ingest.use_say(say)

MANUAL = __doc__
