"""The retention run itself: ``opswatch cleanup --json --as-of``, as a CronJob starts it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from common import (
    REPO,
    say,
)
from ingest import (
    tail,
)

from .base import iso
from .sampling import Sampler


@dataclass
class CleanupRun:
    wall_s: float
    exit_code: int
    report: dict[str, Any] | None  # the tenant's entry of the printed JSON
    stderr_tail: str


async def cli_offers(env: dict[str, str], option: str) -> bool:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "opswatch",
        "cleanup",
        "--help",
        env=env,
        cwd=REPO,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    return option in out.decode(errors="replace")


async def run_cleanup(
    env: dict[str, str],
    as_of: datetime,
    batch: int | None,
    log_path: Path,
    timeout: float,
    sampler: Sampler,
) -> CleanupRun:
    argv = [sys.executable, "-m", "opswatch", "cleanup", "--json", "--as-of", iso(as_of)]
    if batch is not None:
        argv += ["--batch", str(batch)]
    with log_path.open("wb") as log:
        began = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *argv,
            env=env,
            cwd=REPO,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
    sampler.cleanup_pid = process.pid
    say(f"started opswatch cleanup (pid {process.pid}): {shlex.join(argv[2:])}")
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except BaseException:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        raise
    wall = time.perf_counter() - began
    report = None
    lines = out.decode(errors="replace").strip().splitlines()
    if process.returncode == 0 and lines:
        printed = json.loads(lines[-1])
        report = printed["tenants"][0] if printed.get("tenants") else None
    say(f"opswatch cleanup exited {process.returncode} after {wall:.1f} s")
    return CleanupRun(round(wall, 2), process.returncode or 0, report, tail(log_path, 20))
