"""The command line: ``python -m bench.oncall`` (see the package's docstring)."""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlsplit

from common import HelpFormatter, interrupted, machine, not_negative, positive, say

from . import MANUAL
from .base import DEFAULT_SECONDS, DEFAULT_WARMUP
from .databases import run_databases
from .pure import run_pure
from .report import ordered, ratios, render


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.oncall",
        # The package's docstring is the manual: --help shows it whole, line breaks kept.
        description=MANUAL,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--seconds",
        type=positive,
        default=DEFAULT_SECONDS,
        help="wall time each case is repeated for, after its warm-up",
    )
    parser.add_argument(
        "--warmup",
        type=not_negative,
        default=DEFAULT_WARMUP,
        help="seconds each case runs untimed first",
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
    if args.database_url is not None:
        scheme = urlsplit(args.database_url).scheme
        if scheme not in ("postgres", "postgresql"):
            parser.error(f"--database-url must be a postgres:// URL, not {scheme}://")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(sys.orig_argv if argv is None else ["python", "-m", "bench.oncall", *argv])
    # SIGTERM unwinds like Ctrl-C, so the worker is stopped and the database dropped.
    signal.signal(signal.SIGTERM, interrupted)
    try:
        rows, reference = run_pure(args)
        database_rows, postgres_version = run_databases(args, reference)
    except KeyboardInterrupt:
        say("interrupted; everything started was stopped and removed")
        return 130
    rows += database_rows
    different = [f"{r.plan}, {r.case} ({r.path})" for r in rows if r.same_answer is False]
    report = {
        "machine": machine(postgres_version),
        "command": command,
        "seconds_s": args.seconds,
        "warmup_s": args.warmup,
        "results": [asdict(r) for r in ordered(rows)],
        "ratios": ratios(ordered(rows)),
        "different_answers": different,
    }
    print(render(report, rows))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        say(f"wrote {args.json}")
    return 1 if different else 0


if __name__ == "__main__":
    raise SystemExit(main())
