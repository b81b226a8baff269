"""What the benchmark scripts share: the machine's facts, progress lines, and a
scratch PostgreSQL database per run. Imported as ``common`` (a script's own
directory is on ``sys.path`` when run as ``python bench/<name>.py``)."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

REPO = Path(__file__).resolve().parent.parent


def say(message: str) -> None:
    # The time of day, not the time since start: the database runs are other processes.
    stamp = datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


def interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def positive(raw: str) -> float:
    value = float(raw)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be positive, got {raw}")
    return value


def at_least_one(raw: str) -> int:
    """An argparse type: a whole number, 1 or more."""
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {raw}")
    return value


def proc_field(path: str, key: str) -> str | None:
    """The value of the first ``key: value`` line of a /proc file."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    return None


def git(*arguments: str) -> str | None:
    try:
        return subprocess.run(
            ["git", "-C", str(REPO), *arguments],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def git_commit() -> str:
    commit = git("rev-parse", "--short", "HEAD")
    if commit is None:
        return "unknown"
    # Tracked files changed since the commit (this file, if new, does not count).
    changed = git("status", "--porcelain", "--untracked-files=no")
    return f"{commit} (with uncommitted changes)" if changed else commit


def machine(postgres_version: str | None) -> dict[str, str]:
    memory = proc_field("/proc/meminfo", "MemTotal")  # "16318976 kB"
    if memory is not None and memory.split()[0].isdigit():
        memory = f"{int(memory.split()[0]) / 1024 / 1024:.1f} GiB"
    return {
        # What nproc prints: the CPUs this process may run on.
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": proc_field("/proc/cpuinfo", "model name") or "unknown",
        "memory": memory or "unknown",
        "python": platform.python_version(),
        "postgresql": postgres_version or "not used",
        "commit": git_commit(),
    }


def with_database(url: str, name: str, scheme: str | None = None) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme=scheme or parts.scheme, path="/" + name))


async def create_database(admin_url: str, name: str) -> str:
    """Create database ``name``; the server's version."""
    admin = await asyncpg.connect(admin_url, timeout=10)
    try:
        version = str(await admin.fetchval("SHOW server_version"))
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    say(f"created database {name}")
    return version


async def drop_database(admin_url: str, name: str) -> None:
    admin = await asyncpg.connect(admin_url, timeout=10)
    try:
        # FORCE: a worker that was stopped may have left its connections open.
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
    say(f"dropped database {name}")


def not_negative(raw: str) -> float:
    """An argparse type: a finite number, zero or more."""
    value = float(raw)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be zero or more, got {raw}")
    return value


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The description as written (the module docstring is each script's manual),
    and each option's default."""


def run_main(
    main_async: Callable[[], Coroutine[Any, Any, int]], log: Callable[[str], None] = say
) -> int:
    """A script's exit code: ``main_async`` run on uvloop when installed; 130 when
    interrupted (``main_async`` stops and removes what it started on the way out)."""
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        pass
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(main_async())
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted; everything started was stopped and removed")
        return 130
