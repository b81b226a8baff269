"""The command line: ``python -m bench.cleanup`` (see the package's docstring)."""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import signal
import sys
from pathlib import Path
from urllib.parse import urlsplit

from common import (
    HelpFormatter,
    at_least_one,
    not_negative,
    positive,
    run_main,
    say,
)
from ingest import (
    LOOPBACK,
    BenchError,
)

from . import MANUAL
from .base import (
    DEFAULT_AFTER_S,
    DEFAULT_ALERTS,
    DEFAULT_AUDIT,
    DEFAULT_BASELINE_S,
    DEFAULT_CLEANUP_TIMEOUT_S,
    DEFAULT_DRAIN_TIMEOUT_S,
    DEFAULT_IDLE_S,
    DEFAULT_POSTGRES_URL,
    DEFAULT_RATE,
    DEFAULT_REDIS_URL,
    DEFAULT_SAMPLE_S,
    DEFAULT_WARMUP_S,
)
from .bench import run_bench
from .report import render


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cleanup",
        # The package's docstring is the manual: --help shows it whole, line breaks kept.
        description=MANUAL,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--alerts",
        type=at_least_one,
        default=DEFAULT_ALERTS,
        help="resolved alerts past retention (the other categories scale with it)",
    )
    parser.add_argument(
        "--audit", type=at_least_one, default=DEFAULT_AUDIT, help="audit entries past retention"
    )
    parser.add_argument(
        "--rate", type=positive, default=DEFAULT_RATE, help="distinct alerts posted per second"
    )
    parser.add_argument(
        "--idle-seconds",
        type=not_negative,
        default=DEFAULT_IDLE_S,
        help="servers up, no load, CPU only (0: none)",
    )
    parser.add_argument("--warmup-seconds", type=not_negative, default=DEFAULT_WARMUP_S)
    parser.add_argument("--baseline-seconds", type=positive, default=DEFAULT_BASELINE_S)
    parser.add_argument(
        "--after-seconds",
        type=not_negative,
        default=DEFAULT_AFTER_S,
        help="load after the cleanup exited (0: none)",
    )
    parser.add_argument(
        "--batch",
        type=at_least_one,
        help="passed to `opswatch cleanup --batch` if the CLI has it (default: the module's)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the database and the logs (names printed)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--api-workers", type=at_least_one, default=1)
    parser.add_argument("--worker-threads", type=at_least_one, default=8)
    parser.add_argument("--sample-every", type=positive, default=DEFAULT_SAMPLE_S, metavar="S")
    parser.add_argument("--cleanup-timeout", type=positive, default=DEFAULT_CLEANUP_TIMEOUT_S)
    parser.add_argument("--drain-timeout", type=positive, default=DEFAULT_DRAIN_TIMEOUT_S)
    args = parser.parse_args(argv)
    for option in ("postgres_url", "redis_url"):
        host = urlsplit(getattr(args, option)).hostname
        if host not in (LOOPBACK, "localhost"):
            parser.error(f"--{option.replace('_', '-')} must point at {LOOPBACK}, not {host!r}")
    return args


async def main_async(args: argparse.Namespace, command: str) -> int:
    task = asyncio.current_task()
    assert task is not None
    # SIGTERM unwinds like Ctrl-C: processes stopped, database dropped.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        report = await run_bench(args, command)
    except BenchError as error:
        say(f"failed: {error}")
        return 1
    print(render(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
        say(f"wrote {args.json}")
    return 1 if report["failed_checks"] else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(
        sys.orig_argv if argv is None else ["python", "-m", "bench.cleanup", *argv]
    )
    return run_main(lambda: main_async(args, command))


if __name__ == "__main__":
    raise SystemExit(main())
