"""Optional profiles of the server processes (``--profile DIR``, needs py-spy)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter
from pathlib import Path

from .base import REPO, say


class Profiler:
    """Samples each server process with ``py-spy record --gil`` while a phase's load
    runs (only the thread holding the GIL, so the samples are where Python spends
    CPU; without pausing the process), and writes the collapsed stacks and a
    summary of where the samples fall."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def start(
        self, label: str, groups: dict[int, str], seconds: float
    ) -> list[asyncio.subprocess.Process]:
        processes = []
        for pid, name in groups.items():
            raw = self.directory / f"{label}-{name.replace(' ', '_')}.txt"
            processes.append(
                await asyncio.create_subprocess_exec(
                    self.binary,
                    "record",
                    "--pid",
                    str(pid),
                    "--subprocesses",
                    "--nonblocking",
                    "--gil",
                    "--rate",
                    "100",
                    "--duration",
                    str(max(1, round(seconds))),
                    "--format",
                    "raw",
                    "--output",
                    str(raw),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
            )
        return processes

    async def finish(self, processes: list[asyncio.subprocess.Process]) -> None:
        for process in processes:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 30)
        for raw in sorted(self.directory.glob("*.txt")):
            if raw.name.endswith(".top.txt"):
                continue
            summary = raw.with_suffix(".top.txt")
            if not summary.exists():
                summary.write_text(summarize_profile(raw))
                say(f"profile: {summary}")


_FRAME_LINE = re.compile(r":\d+\)$")


def _frame(raw: str) -> str:
    """``fn (path/to/file.py:12)`` without the line number and the path's prefix."""
    name, _, location = _FRAME_LINE.sub(")", raw.strip()).partition(" (")
    for marker in ("site-packages/", str(REPO) + "/", "/lib/python3.11/"):
        if marker in location:
            location = location.split(marker, 1)[1]
            break
    return f"{name} ({location}" if location else name


def summarize_profile(path: Path, top: int = 40) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        total += count
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
    if total == 0:
        return f"{path.name}: no samples\n"
    lines = [
        f"{path.name}: {total} samples of the GIL holder at 100/s "
        f"(i.e. {total / 100:.1f} s of GIL-holding time)",
        "",
        "inclusive:",
    ]
    lines += [f"{100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    lines += ["", "self:"]
    lines += [f"{100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top // 2)]
    return "\n".join(lines) + "\n"
