"""Load generators: the asyncio client (open and closed loop) and wrk."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from .base import MAX_IN_FLIGHT, REQUEST_TIMEOUT_S, BenchError

# wrk script: POST one JSON alert per request, a new fingerprint each time
# ("distinct") or always the same ("same"); counts 202 answers per thread and
# prints one JSON line at the end.
WRK_SCRIPT = r"""
threads = {}
counter = 0
accepted = 0
rejected = 0
prefix = os.getenv("BENCH_PREFIX") or "bench"
mode = os.getenv("BENCH_MODE") or "distinct"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_API_KEY") or ""
if key ~= "" then
  wrk.headers["X-API-Key"] = key
end

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local fp = prefix
  if mode ~= "same" then
    fp = prefix .. "-" .. tid .. "-" .. counter
  end
  local body = '{"title":"bench ' .. fp .. '","fingerprint":"' .. fp ..
    '","severity":"critical"}'
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 202 then
    accepted = accepted + 1
  else
    rejected = rejected + 1
  end
end

function done(summary, latency, requests)
  local acc, rej = 0, 0
  for _, t in ipairs(threads) do
    acc = acc + t:get("accepted")
    rej = rej + t:get("rejected")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"accepted":%d,"rejected":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,' ..
    '"timeouts":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, acc, rej, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass
class LoadResult:
    sent: int = 0
    accepted: int = 0  # answered 202
    other: dict[str, int] = field(default_factory=dict)  # other statuses and errors
    elapsed_s: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    offered_per_s: float | None = None  # open loop only

    @property
    def accepted_per_s(self) -> float:
        return self.accepted / self.elapsed_s if self.elapsed_s > 0 else 0.0


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile of ``values`` (0 < share <= 1)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, int(-(-share * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]


def alert_body(fingerprint: str) -> bytes:
    return json.dumps(
        {"title": f"bench {fingerprint}", "fingerprint": fingerprint, "severity": "critical"}
    ).encode()


class Poster:
    """POSTs JSON bodies to one URL with the asyncio client; records status and time."""

    def __init__(self, session: aiohttp.ClientSession, url: str, api_key: str | None) -> None:
        self.session = session
        self.url = url
        self.headers = {"Content-Type": "application/json"}
        if api_key:
            self.headers["X-API-Key"] = api_key
        self.statuses: Counter[str] = Counter()
        self.latencies: list[float] = []

    def reset(self) -> None:
        self.statuses = Counter()
        self.latencies = []

    async def post(self, body: bytes) -> int | None:
        started = time.perf_counter()
        status: int | None = None
        try:
            async with self.session.post(self.url, data=body, headers=self.headers) as response:
                await response.read()
                status = response.status
                self.statuses[str(status)] += 1
        except (aiohttp.ClientError, TimeoutError) as error:
            self.statuses[type(error).__name__] += 1
        self.latencies.append(time.perf_counter() - started)
        return status

    def result(self, elapsed_s: float) -> LoadResult:
        statuses = dict(self.statuses)
        accepted = statuses.pop("202", 0)
        ms = [x * 1000 for x in self.latencies]
        p50, p99 = percentile(ms, 0.50), percentile(ms, 0.99)
        return LoadResult(
            sent=len(self.latencies),
            accepted=accepted,
            other=statuses,
            elapsed_s=elapsed_s,
            p50_ms=round(p50, 2) if p50 is not None else None,
            p99_ms=round(p99, 2) if p99 is not None else None,
            max_ms=round(max(ms), 2) if ms else None,
        )


async def open_loop(
    poster: Poster,
    body: Callable[[int], bytes],
    *,
    rate: float,
    count: int,
    on_send: Callable[[int, float], None] | None = None,
) -> LoadResult:
    """Send ``count`` requests at ``rate`` per second, whatever the answers take;
    at most MAX_IN_FLIGHT wait at once (then the rate drops: see offered_per_s)."""
    poster.reset()
    pending: set[asyncio.Task[int | None]] = set()

    async def one(index: int) -> int | None:
        if on_send is not None:
            on_send(index, time.perf_counter())
        return await poster.post(body(index))

    started = time.perf_counter()
    give_up = started + count / rate * 3 + 30  # bounded even when the server stalls
    sent = 0
    while sent < count and time.perf_counter() < give_up:
        due = min(count, int((time.perf_counter() - started) * rate) + 1)
        while sent < due and len(pending) < MAX_IN_FLIGHT:
            task = asyncio.get_running_loop().create_task(one(sent))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1
        if len(pending) >= MAX_IN_FLIGHT:
            await asyncio.wait(set(pending), return_when=asyncio.FIRST_COMPLETED)
        else:
            next_due = started + sent / rate
            await asyncio.sleep(max(0.0, next_due - time.perf_counter()))
    sending_s = time.perf_counter() - started
    if pending:
        await asyncio.wait(set(pending), timeout=REQUEST_TIMEOUT_S + 5)
    result = poster.result(time.perf_counter() - started)
    result.offered_per_s = round(sent / sending_s, 1) if sending_s > 0 else None
    return result


async def closed_loop(
    poster: Poster, body: Callable[[int], bytes], *, duration: float, concurrency: int
) -> LoadResult:
    """``concurrency`` workers, each posting again as soon as it is answered."""
    poster.reset()
    counter = iter(range(10**9))
    started = time.perf_counter()
    deadline = started + duration

    async def worker() -> None:
        while time.perf_counter() < deadline:
            await poster.post(body(next(counter)))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return poster.result(time.perf_counter() - started)


async def closed_count(
    poster: Poster, body: Callable[[int], bytes], *, count: int, concurrency: int
) -> LoadResult:
    """``count`` requests from ``concurrency`` workers, each posting again as soon as it
    is answered (as fast as the server takes them); gives up after 10 minutes."""
    poster.reset()
    indexes = iter(range(count))
    started = time.perf_counter()
    give_up = started + 600

    async def worker() -> None:
        for index in indexes:
            if time.perf_counter() >= give_up:
                return
            await poster.post(body(index))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return poster.result(time.perf_counter() - started)


class Wrk:
    def __init__(self, binary: str, script: Path, threads: int) -> None:
        self.binary = binary
        self.script = script
        self.threads = threads

    async def run(
        self,
        url: str,
        *,
        api_key: str | None,
        prefix: str,
        mode: str,
        duration: float,
        concurrency: int,
    ) -> LoadResult:
        env = dict(os.environ, BENCH_PREFIX=prefix, BENCH_MODE=mode, BENCH_API_KEY=api_key or "")
        argv = [
            self.binary,
            "-t",
            str(min(self.threads, concurrency)),
            "-c",
            str(concurrency),
            "-d",
            f"{max(1, round(duration))}s",
            "--timeout",
            f"{REQUEST_TIMEOUT_S:.0f}s",
            "-s",
            str(self.script),
            url,
        ]
        process = await asyncio.create_subprocess_exec(
            *argv,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), duration + 60)
        except (TimeoutError, asyncio.CancelledError):
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        text = out.decode(errors="replace")
        for line in text.splitlines():
            if line.startswith("BENCH_RESULT "):
                raw = json.loads(line.removeprefix("BENCH_RESULT "))
                break
        else:
            raise BenchError(f"wrk printed no result:\n{text}\n{err.decode(errors='replace')}")
        other = {
            name: raw[name]
            for name in (
                "rejected",
                "connect_errors",
                "read_errors",
                "write_errors",
                "timeouts",
            )
            if raw[name]
        }
        return LoadResult(
            sent=raw["requests"],
            accepted=raw["accepted"],
            other=other,
            elapsed_s=raw["duration_us"] / 1e6,
            p50_ms=raw["p50_us"] / 1000,
            p99_ms=raw["p99_us"] / 1000,
            max_ms=raw["max_us"] / 1000,
        )


class LoadGenerator:
    """Closed loop with wrk (or the asyncio client); open loop with the asyncio client."""

    def __init__(self, args: argparse.Namespace, session: aiohttp.ClientSession, tmp: Path):
        self.session = session
        self.concurrency: int = args.concurrency
        self.wrk: Wrk | None = None
        if args.client == "wrk":
            binary = shutil.which("wrk")
            if binary is None:
                raise BenchError("wrk is not on the PATH: apt-get install wrk, or --client python")
            script = tmp / "ingest.lua"
            script.write_text(WRK_SCRIPT)
            self.wrk = Wrk(binary, script, args.wrk_threads)

    def describe(self) -> str:
        if self.wrk is not None:
            threads = min(self.wrk.threads, self.concurrency)
            return (
                f"wrk -t{threads} -c{self.concurrency} (closed loop); asyncio+aiohttp (open loop)"
            )
        return f"asyncio+aiohttp, {self.concurrency} connections (closed loop) and open loop"

    async def closed(
        self, url: str, api_key: str | None, prefix: str, mode: str, duration: float
    ) -> LoadResult:
        if self.wrk is not None:
            return await self.wrk.run(
                url,
                api_key=api_key,
                prefix=prefix,
                mode=mode,
                duration=duration,
                concurrency=self.concurrency,
            )
        poster = Poster(self.session, url, api_key)

        def body(i: int) -> bytes:
            return alert_body(prefix if mode == "same" else f"{prefix}-{i}")

        return await closed_loop(poster, body, duration=duration, concurrency=self.concurrency)
