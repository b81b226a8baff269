"""The command line: ``python -m bench.escalation`` (see the package's docstring)."""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
from pathlib import Path
from urllib.parse import urlsplit

from common import HelpFormatter, at_least_one, interrupted, machine, positive, say

from . import MANUAL
from .base import DEFAULT_ALERTS, DEFAULT_PEOPLE, DEFAULT_SPREAD, DEFAULT_TICKS
from .databases import run_databases
from .report import problems_of, render


def tick_list(raw: str) -> tuple[float, ...]:
    return tuple(positive(part) for part in raw.split(",") if part.strip())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.escalation",
        # The package's docstring is the manual: --help shows it whole, line breaks kept.
        description=MANUAL,
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
    command = shlex.join(
        sys.orig_argv if argv is None else ["python", "-m", "bench.escalation", *argv]
    )
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
