"""Ingest benchmark: webhook alerts accepted, processed and delivered to subscribers.

It drives ``POST /api/v1/webhooks/generic`` over HTTP and reports, for each runtime
shape, how many alerts per second are accepted (answered 202, which means
committed to the inbox), how many per second are fully processed (deduplicated
into ``alert`` rows, the inbox row marked processed), how long the backlog takes
to drain once the load stops, whether a storm of one fingerprint is counted
exactly, and the webhook-to-subscriber latency. Next to it, the same client
drives a bare Starlette endpoint doing one PostgreSQL INSERT per request
(``bench/baseline_app.py``), the reference the targets are expressed in.

Run it from the repository root, with the project's virtualenv::

    .venv/bin/python -m bench.ingest                          # baseline, embedded, production
    .venv/bin/python -m bench.ingest --shape embedded --duration 10
    .venv/bin/python -m bench.ingest --shape production --phases sustained --duration 60
    .venv/bin/python -m bench.ingest --shape all --json /tmp/ingest.json

Requirements: PostgreSQL reachable as ``postgres://postgres@127.0.0.1:5432/postgres``
by a role that may create databases (``--postgres-url``; shapes ``baseline`` and
``production``), Redis at ``redis://127.0.0.1:6379/0`` (``--redis-url``; shape
``production``), and ``wrk`` on the PATH (``apt-get install wrk``) for the
closed-loop phases, or ``--client python`` to use the built-in asyncio client
for those too.

Everything it needs it starts itself, on free loopback ports, and removes
afterwards, also when it fails or is interrupted: a SQLite file in a temporary
directory (embedded), a fresh PostgreSQL database ``opswatch_bench_<hex>``
(dropped at the end), a unique ``OPSWATCH_REDIS_NAMESPACE`` (its keys deleted at
the end), the tenant, API key and user token (made with ``opswatch ... --json``),
and the server processes: ``opswatch serve`` (embedded), ``opswatch api`` plus
``opswatch worker`` (production), or uvicorn with the baseline app. It only ever
connects to 127.0.0.1. With ``--worker-split`` the production shape runs two
workers, as docker-compose.yml deploys them: ``opswatch worker --queues ingest``
and ("pager") ``opswatch worker --queues escalation slack default``.

Phases of each OpsWatch shape (``--phases``; by default all but ``noisy``), in this order:

``burst``
    closed loop: ``--concurrency`` connections post distinct fingerprints as fast
    as they are answered, for ``--duration`` seconds (wrk, or the asyncio client).
    Reports accepted/s, then polls the database (``alert_event`` rows with
    ``processed_at`` set, and ``alert`` rows) until every stored event is
    processed: processed/s during the load, processed/s from the first request to
    the last event processed, and the drain time after the load stopped.
``sustained``
    open loop: distinct fingerprints at a fixed ``--sustain-rate`` (2,000/s for
    production, 1,000/s for embedded) for ``--duration`` seconds; it passes when
    at least 98% of the offered rate is accepted, processing keeps up (at least
    95% of it processed during the load) and the backlog drains within 5 s.
``storm``
    open loop: ``--storm-rate`` events/s of ONE fingerprint for
    ``--storm-duration`` seconds; passes when exactly one alert exists for it and
    its ``occurrences`` equals the number of events answered 202.
``latency``
    a ``gql`` WebSocket subscription to ``alertEvents`` (graphql-transport-ws)
    and distinct fingerprints posted at ``--rate`` per second (200) for
    ``--latency-duration`` seconds (10); latency is from just before each POST to
    the arrival of that alert's CREATED event on the subscription (p50/p99/max).

``noisy`` (only when named: ``--phases noisy``)
    tenant A storms ``--noisy-alerts`` (10,000) distinct alerts into a default
    escalation policy that pages one on-call person by SMS and PHONE through a
    Twilio that is down, while tenant B sends ``--noisy-b-rate`` (10) alerts/s;
    reports B's webhook-to-processed latency, A's drain time, the escalation
    events by status, CPU, PostgreSQL deadlocks and a timeline (see
    ``bench/ingest/noisy.py``). Target: B's p99 under 2 s.

Open-loop phases send on schedule whatever the answers take, but never have
more than 512 requests waiting: a server that cannot keep up makes the send rate
drop, and the tables report the rate actually sent ("sent N/s"). Every loop is
bounded: sending stops at three times the planned duration plus 30 s, a drain
wait at ``--drain-timeout`` (a shape whose backlog did not drain skips its
remaining phases), each request at 30 s.

The baseline shape runs ``insert`` (closed loop, distinct rows, one INSERT each)
and ``upsert`` (closed loop, one hot row, one atomic upsert each) with the same
client and settings as ``burst``.

For every phase it also reports the CPU used per component, in cores, read from
/proc: the server processes, the PostgreSQL backends of the run's database,
PostgreSQL's background processes, Redis, the load generator itself, and
"other" (everything else on the machine, i.e. noise). The load generator shares
the machine's cores with the servers, which lowers every figure; the tables say
how much of the machine it took. The latency phase also splits the delay: from
the inbox row's ``received_at`` to its ``processed_at`` (read from the database),
the rest being the webhook before the insert and the live feed after processing.
At the end of each shape the server logs are scanned for errors, tracebacks and
retried jobs. Before each phase a fixed pure-Python loop is timed ("speed
check"): on a shared VM, a slower check explains a slower run.

A run from a snapshot that is not a git checkout (``git archive COMMIT | tar -x``,
to measure one commit while the working tree changes) reports the commit named
by ``BENCH_COMMIT``.

Diagnosis aids: ``--profile DIR`` records each OpsWatch process with
``py-spy record --gil`` during every phase's load (py-spy from PyPI, installed
anywhere: ``--py-spy PATH``) and writes collapsed stacks plus a summary of the
hottest functions; ``--db-params maxsize=20`` appends query parameters to
OpsWatch's PostgreSQL URL (e.g. Tortoise's pool size) for experiments.

Output: progress on stderr, then Markdown tables (the machine and commit, results
per shape and phase, CPU per component, and the targets met or missed) on
stdout, and the raw figures as JSON with ``--json PATH``. Exit status 0 when
every shape ran (targets missed are reported, not failures), 1 when a shape
could not run, 130 when interrupted (SIGINT or SIGTERM; everything started is
stopped and removed first).

The package's parts: ``base`` (limits, targets, progress lines), ``processes``
(servers, the CLI, the scratch database and Redis namespace), ``load`` (the
asyncio client's open and closed loops, wrk), ``counting`` (inbox and alert
counts on PostgreSQL or SQLite), ``cpu`` (CPU per component, the speed check),
``profile`` (py-spy), ``phases`` (measuring each phase), ``noisy`` and
``noisy_report`` (the noisy-neighbour phase and its tables), ``shapes`` (starting
each shape), ``report`` (the tables) and ``__main__`` (the command line).
Other bench scripts import the helpers from here (``import ingest``, with
bench/ on ``sys.path``, as ``python bench/<name>.py`` has it).
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/common.py is imported as ``common``: as ``python -m bench.ingest`` puts the
# repository root, not bench/, on the path, bench/ is added here.
_BENCH = str(Path(__file__).resolve().parent.parent)
if _BENCH not in sys.path:
    sys.path.insert(0, _BENCH)

from .base import (  # noqa: E402
    LOOPBACK,
    MAX_IN_FLIGHT,
    REQUEST_TIMEOUT_S,
    WEBHOOK_PATH,
    BenchError,
    say,
    use_say,
)
from .cpu import CpuMeter, speed_check  # noqa: E402
from .load import Poster, alert_body, percentile  # noqa: E402
from .processes import (  # noqa: E402
    Service,
    api_command,
    clean_env,
    free_port,
    log_issues,
    redis_cleanup,
    redis_version,
    run_cli,
    tail,
    wait_http_ok,
    wait_log_line,
)

__all__ = [
    "LOOPBACK",
    "MAX_IN_FLIGHT",
    "REQUEST_TIMEOUT_S",
    "WEBHOOK_PATH",
    "BenchError",
    "CpuMeter",
    "Poster",
    "Service",
    "alert_body",
    "api_command",
    "clean_env",
    "free_port",
    "log_issues",
    "percentile",
    "redis_cleanup",
    "redis_version",
    "run_cli",
    "say",
    "speed_check",
    "tail",
    "use_say",
    "wait_http_ok",
    "wait_log_line",
]
