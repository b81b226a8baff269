"""Faults during an alert storm, for longer than tests/reliability/test_faults.py runs
them, with the same harness (tests/reliability/harness.py).

It starts a PostgreSQL (initdb into a temporary directory; as root, run as the
``postgres`` user) and a redis-server (no persistence) of its own on free ports of
127.0.0.1, then ``opswatch db upgrade``, one ``opswatch api``, one ``scheduler`` and
one ``worker``. It never touches the shared servers. For each scenario, a tenant of
its own and a load generator that offers ``--rate`` events a second for
``--duration`` seconds to the generic webhook (distinct fingerprints, and
``--repeat-share`` of repeats), retrying each event on 5xx, 429 and connection errors
with a capped backoff, as Alertmanager does:

- ``kill-worker``: kill -9 the worker mid-storm, a new one a second later;
- ``restart-redis``: stop Redis (every queued job is lost), start it two seconds later;
- ``restart-postgres``: ``pg_ctl restart -m fast`` (every session is cut).

Each fault happens ``--fault-at`` seconds into the load, and ``--faults`` times in
all, ``--every`` seconds apart. After the load, it waits (at most
``--settle-timeout``) until every accepted event is processed, then counts:

- offered: events the senders tried to deliver; accepted: those that got a 202;
- processed: accepted events processed (outcome other than "failed");
- lost: accepted events not processed, or occurrences short of the 202s of a
  fingerprint; doubled: occurrences beyond the 202s of a fingerprint;
- stored, no 202: tries stored although the sender heard no 202 (and tried again);
- statuses by code (and connection errors by name), 5xx, 500 (must be none);
  every 503 must carry Retry-After.

Usage::

    .venv/bin/python bench/chaos.py                          # 60 s per scenario
    .venv/bin/python bench/chaos.py --duration 120 --rate 150 --faults 3 --every 30
    .venv/bin/python bench/chaos.py --scenarios kill-worker --json /tmp/chaos.json

Exit status: 0 when nothing was lost, doubled or answered 500; 1 otherwise; 2 when
the harness itself failed (the message says what); 130 when interrupted. Everything
it started is stopped and its files removed on the way out (``--keep-files`` keeps
the logs and data directories, and says where).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from common import HelpFormatter, at_least_one, machine, not_negative, positive, run_main, say

REPO = Path(__file__).resolve().parent.parent
# The harness lives with the tests it was written for; the checkout's root makes
# ``tests`` importable from a script run as ``python bench/chaos.py``.
sys.path.insert(0, str(REPO))

from tests.reliability.harness import (  # noqa: E402
    SCENARIOS,
    HarnessError,
    LoadConfig,
    Report,
    Stack,
    missing_tools,
    run_scenario,
    table,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--duration", type=positive, default=60.0, help="seconds of load each")
    parser.add_argument("--rate", type=positive, default=100.0, help="events offered per second")
    parser.add_argument(
        "--fault-at", type=not_negative, default=None, help="seconds in (default: a third)"
    )
    parser.add_argument("--faults", type=at_least_one, default=1, help="faults per scenario")
    parser.add_argument(
        "--every", type=not_negative, default=15.0, help="seconds between two faults"
    )
    parser.add_argument(
        "--scenarios", nargs="+", choices=sorted(SCENARIOS), default=list(SCENARIOS)
    )
    parser.add_argument("--repeat-share", type=float, default=0.2, help="of events, repeats")
    parser.add_argument("--concurrency", type=at_least_one, default=32, help="events in flight")
    parser.add_argument(
        "--give-up", type=positive, default=120.0, help="seconds a sender retries one event"
    )
    parser.add_argument("--settle-timeout", type=positive, default=180.0)
    parser.add_argument("--worker-threads", type=at_least_one, default=4)
    parser.add_argument(
        "--json", metavar="PATH", help="also write the report as JSON ('-': stdout)"
    )
    parser.add_argument("--keep-files", action="store_true", help="keep logs and data")
    args = parser.parse_args(argv)
    if not 0 <= args.repeat_share < 1:
        parser.error("--repeat-share must be from 0 to below 1")
    if args.fault_at is None:
        args.fault_at = args.duration / 3
    return args


def command_line(argv: list[str]) -> str:
    return " ".join(shlex.quote(part) for part in [".venv/bin/python", "bench/chaos.py", *argv])


def lscpu_head() -> list[str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    return out.stdout.splitlines()[:12]


def render(report: dict[str, Any]) -> str:
    lines = [
        f"command: {report['command']}",
        "machine: " + ", ".join(f"{k} {v}" for k, v in report["machine"].items()),
        f"redis: {report['redis']}",
        "",
        report["table"],
    ]
    for entry in report["scenarios"]:
        if entry["tracebacks"]:
            counts = ", ".join(f"{k} {v}" for k, v in entry["tracebacks"].items() if v)
            if counts:
                lines.append(f"- {entry['scenario']}: tracebacks in logs so far: {counts}")
        for sample in entry["samples"]:
            lines.append(f"- {entry['scenario']}: unexpected answer {sample}")
    return "\n".join(lines)


async def main_async(
    args: argparse.Namespace, argv: list[str], finished: list[dict[str, Any]]
) -> int:
    missing = missing_tools()
    if missing:
        say(f"missing: {', '.join(missing)}")
        return 2
    config = LoadConfig(
        rate=args.rate,
        duration_s=args.duration,
        repeat_share=args.repeat_share,
        concurrency=args.concurrency,
        give_up_s=args.give_up,
    )
    stack = Stack(worker_threads=args.worker_threads, sweep_after_s=2, log=say)
    reports: list[Report] = []
    postgres_version = redis_version = "?"
    try:
        await stack.start()
        postgres_version = await stack.postgres.version()
        redis_version = await stack.redis.version()
        for name in args.scenarios:
            dead = stack.dead()
            if dead:
                raise HarnessError(f"before {name}: {', '.join(dead)}\n{stack.log_tails()}")
            reports.append(
                await run_scenario(
                    stack,
                    name,
                    config,
                    fault_at_s=args.fault_at,
                    faults=args.faults,
                    every_s=args.every,
                    settle_timeout_s=args.settle_timeout,
                    log=say,
                )
            )
    except HarnessError as error:
        say(f"harness failed: {error}")
        print(stack.log_tails(), file=sys.stderr)
        return 2
    finally:
        await stack.close(keep_files=args.keep_files)
        if args.keep_files:
            say(f"kept {stack.root} and {stack.postgres.root}")
    report = {
        "command": command_line(argv),
        "machine": machine(postgres_version),
        "lscpu": lscpu_head(),
        "redis": redis_version,
        "load": vars(config),
        "fault_at_s": args.fault_at,
        "faults": args.faults,
        "every_s": args.every,
        "scenarios": [r.to_json() for r in reports],
        "table": table(reports),
    }
    print(render(report))
    finished.append(report)
    problems = [f"{r.scenario}: {p}" for r in reports for p in r.problems()]
    for problem in problems:
        say(f"PROBLEM {problem}")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    args = parse_args(arguments)
    finished: list[dict[str, Any]] = []
    status = run_main(lambda: main_async(args, arguments, finished))
    if args.json and finished:
        text = json.dumps(finished[0], indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
            say(f"wrote {args.json}")
    return status


if __name__ == "__main__":
    sys.exit(main())
