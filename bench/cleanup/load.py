"""The steady webhook load that runs while the cleanup does."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from ingest import (
    MAX_IN_FLIGHT,
    REQUEST_TIMEOUT_S,
    Poster,
    alert_body,
)


@dataclass
class Sent:
    at: float  # time.monotonic() just before the POST: which phase it belongs to
    wall: float  # time.time() then: compared with the inbox row's processed_at
    answer_s: float | None = None
    status: str = "pending"


class SteadyLoad:
    """Posts a new fingerprint ``rate`` times a second until stopped."""

    def __init__(self, poster: Poster, rate: float, prefix: str) -> None:
        self.poster = poster
        self.rate = rate
        self.prefix = prefix
        self.sent: list[Sent] = []
        self.skipped = 0  # sends dropped after falling more than a second behind
        self._stopping = False

    def fingerprint(self, index: int) -> str:
        return f"{self.prefix}{index}"

    async def _one(self, index: int, record: Sent) -> None:
        began = time.perf_counter()
        status = await self.poster.post(alert_body(self.fingerprint(index)))
        record.answer_s = time.perf_counter() - began
        record.status = str(status) if status is not None else "error"

    def stop(self) -> None:
        self._stopping = True

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        pending: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        count = 0
        try:
            while not self._stopping:
                now = time.perf_counter()
                due = int((now - start) * self.rate) + 1
                if due - count > self.rate:  # over a second behind: skip, do not burst
                    self.skipped += due - count - 1
                    start = now - count / self.rate
                    due = count + 1
                while count < due and len(pending) < MAX_IN_FLIGHT:
                    record = Sent(time.monotonic(), time.time())
                    self.sent.append(record)
                    task = loop.create_task(self._one(count, record))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                    count += 1
                if len(pending) >= MAX_IN_FLIGHT:
                    await asyncio.wait(set(pending), timeout=1, return_when=asyncio.FIRST_COMPLETED)
                else:
                    await asyncio.sleep(max(0.0, start + count / self.rate - time.perf_counter()))
            if pending:
                await asyncio.wait(set(pending), timeout=REQUEST_TIMEOUT_S + 5)
        finally:
            for task in pending:
                task.cancel()
