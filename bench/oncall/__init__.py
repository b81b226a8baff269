"""On-call resolution benchmark: who holds the pager at an instant, and a schedule.

It measures the two ways OpsWatch answers "who is on call":

pure
    ``opswatch.rosters.resolve`` on a ``Plan`` built in memory, no database:
    ``oncall_at(plan, instant)`` and ``schedule(plan, start, end)``.
SQLite, PostgreSQL
    ``opswatch.rosters.oncall.shift_at(roster, instant)`` and
    ``shifts_between(roster, start, end)``, the path the REST endpoint and GraphQL
    take: load the plan (the roster's sub-rosters, members and overrides), then
    compute the same answer. SQLite always runs, on a file in a temporary
    directory; PostgreSQL runs when ``--database-url postgres://...`` is given.

Three plans, each rotating weekly from Monday 2026-01-05 with 08:00 local handoffs:

standard
    one rotation in Europe/Berlin, 3 members.
follow-the-sun
    the spec's "Global Primary": sub-rosters APAC (Pacific/Auckland) and EMEA
    (Europe/Berlin), each covering 08:00-20:00 local with 3 members.
follow-the-sun + 20 overrides
    the same, plus 20 two-day overrides (on the roster itself and on each
    sub-roster in turn): ten about five weeks apart within half a year either side
    of each measured instant, the middle one covering the instant itself.

Four cases per plan:

``at +1 day``
    one lookup at 2026-01-06 12:00 UTC, a day after the start date.
``at +10 years``
    one lookup 522 weeks (ten years) later, 2036-01-08 12:00 UTC: the same weekday
    and time, so the same point of a weekly shift. The lookup is constant-time
    arithmetic on calendar days, so its cost must not grow with the distance from
    the start date: the report gives the ratio of the mean latencies (near 1).
    A lookup computes the shifts within the rotation length plus a day either
    side; at +1 day that range begins before the first handoff, where nobody is
    on call and the answer is cheaper, so the pure path's ratio sits a little
    above 1 (about 1.25 for the standard roster) without any growth with
    distance: from +2 weeks on, the cost is flat.
``7-day schedule`` and ``90-day schedule``
    every shift from 2026-01-05 00:00 UTC over 7 and 90 days.

Each case is run once (its answer is kept), warmed up for ``--warmup`` seconds,
then repeated for ``--seconds`` of wall time, one call after the other, each timed
with ``time.perf_counter_ns``; the report gives calls per second, the mean and
p99 latency and the number of shifts in the answer. The database cases await each
call before the next (on the default asyncio loop): the latency of one connection
is the point, not throughput under concurrency. The answers of the database paths
are compared with the pure path's (the same shifts, holders and sub-rosters), so
both measure the same work; a difference is reported and exits with status 1.

Run it from the repository root, with the project's virtualenv::

    .venv/bin/python -m bench.oncall
    .venv/bin/python -m bench.oncall --database-url postgres://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m bench.oncall --seconds 10 --json /tmp/oncall.json

The database is set up the way a deployment's is: migrated with
``opswatch.db.upgrade``, connected with ``opswatch.db.connect``, a runtime
installed (creating a roster seals its calendar token with the runtime's secret
box), and a tenant, its users, rosters and overrides created through the service
functions. For PostgreSQL, a role that may create databases is needed: the run
connects to the URL's ``postgres`` database, creates ``opswatch_bench_<hex>``,
uses it, and drops it at the end, also when the run fails or is interrupted.

Output: progress on stderr; on stdout a Markdown section (the machine, the
commit, the command line, one table of every case, the ten-year/one-day ratios
and whether the answers agreed), and the same figures as JSON with ``--json PATH``.

The package's parts: ``base`` (defaults and the measured instants), ``plans``
(the plans and cases, and answers as names and instants), ``timing`` (the timed
repetitions), ``pure`` (the in-memory path), ``seed`` (the database's tenant,
users, rosters and overrides), ``databases`` (one database per process),
``report`` and ``__main__`` (the command line).
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/common.py is imported as ``common``, as the other bench scripts do:
# ``python -m bench.oncall`` puts the repository root, not bench/, on the path, so
# bench/ is added here.
_BENCH = str(Path(__file__).resolve().parent.parent)
if _BENCH not in sys.path:
    sys.path.insert(0, _BENCH)

MANUAL = __doc__
