"""Measuring one phase against a running OpsWatch shape."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from .base import (
    EMBEDDED_TARGET,
    KEEP_UP_ACCEPTED,
    KEEP_UP_DRAIN_S,
    KEEP_UP_PROCESSED,
    SAMPLE_EVERY_S,
    SUSTAINED_TARGET,
    WEBHOOK_PATH,
    BenchError,
    say,
)
from .counting import Counts, PostgresCounts, SqliteCounts
from .cpu import CpuMeter, speed_check
from .load import LoadGenerator, LoadResult, Poster, alert_body, open_loop, percentile
from .noisy import DeadTelephony, phase_noisy
from .profile import Profiler

SUBSCRIPTION = """
subscription {
  alertEvents { kind cursor alert { id fingerprint occurrences } }
}
"""


@dataclass
class Target:
    """One running OpsWatch shape."""

    shape: str
    base_url: str
    api_key: str
    token: str
    db: PostgresCounts | SqliteCounts
    cpu: CpuMeter
    profiler: Profiler | None = None
    env: dict[str, str] = field(default_factory=dict)  # the servers', for the CLI
    telephony: DeadTelephony | None = None  # the noisy phase's provider

    @property
    def webhook_url(self) -> str:
        return self.base_url + WEBHOOK_PATH

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1) + "/graphql"


async def sample_forever(
    db: PostgresCounts | SqliteCounts, samples: list[tuple[float, Counts]], started: float
) -> None:
    while True:
        samples.append((time.perf_counter() - started, await db.counts()))
        await asyncio.sleep(SAMPLE_EVERY_S)


async def wait_drained(
    db: PostgresCounts | SqliteCounts, limit_s: float
) -> tuple[bool, float, Counts]:
    """Poll until every stored event is processed, or ``limit_s`` passes."""
    deadline = time.perf_counter() + limit_s
    while True:
        now = await db.counts()
        if now.processed >= now.events:
            done = time.perf_counter()
            return True, done, await db.exact_counts()
        if time.perf_counter() >= deadline:
            return False, time.perf_counter(), await db.exact_counts()
        await asyncio.sleep(0.1)


async def measure(
    target: Target,
    phase: str,
    load: Callable[[], Awaitable[LoadResult]],
    expected_s: float,
    drain_limit_s: float,
) -> dict[str, Any]:
    """Run ``load``, then wait for the backlog to drain; the figures both ways."""
    reference_ms = speed_check()
    before = await target.db.exact_counts()
    samples: list[tuple[float, Counts]] = []
    profiles: list[asyncio.subprocess.Process] = []
    if target.profiler is not None:
        label = f"{target.shape}-{phase}"
        profiles = await target.profiler.start(label, target.cpu.groups, expected_s)
    cpu_start = target.cpu.snapshot()
    started = time.perf_counter()
    sampler = asyncio.get_running_loop().create_task(sample_forever(target.db, samples, started))
    try:
        result = await load()
        load_end = time.perf_counter()
        if target.profiler is not None:
            await target.profiler.finish(profiles)
        at_load_end = await target.db.counts()
        cpu_load_end = target.cpu.snapshot()
        await asyncio.sleep(0.2)  # requests wrk abandoned at the end may still commit
        drained, done, final = await wait_drained(target.db, drain_limit_s)
        cpu_done = target.cpu.snapshot()
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        for process in profiles:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
    load_s = load_end - started
    stored = final.events - before.events
    backlogs = [c.backlog for _, c in samples] + [at_load_end.backlog]
    return {
        "load": asdict(result),
        "accepted_per_s": round(result.accepted_per_s, 1),
        "stored_events": stored,
        "load_s": round(load_s, 2),
        "processed_during_load_per_s": round(
            (at_load_end.processed - before.processed) / load_s, 1
        ),
        "backlog_at_load_end": at_load_end.backlog,
        "max_backlog": max(backlogs),
        "drained": drained,
        "drain_s": round(done - load_end, 2),
        "processed_per_s": round((final.processed - before.processed) / (done - started), 1),
        "new_alerts": (final.alerts or 0) - (before.alerts or 0),
        "speed_check_ms": reference_ms,
        "cpu_cores_load": CpuMeter.cores(cpu_start, cpu_load_end, load_end - started),
        "cpu_cores_drain": CpuMeter.cores(cpu_load_end, cpu_done, done - load_end),
    }


def kept_up(figures: dict[str, Any]) -> bool:
    """The open-loop load was sent and accepted at its rate, processing kept pace, and
    the backlog was gone soon after the load stopped."""
    rate, load = figures["rate"], figures["load"]
    return bool(
        load["accepted"] >= KEEP_UP_ACCEPTED * figures["events"]
        and (load["offered_per_s"] or 0) >= KEEP_UP_ACCEPTED * rate
        and figures["processed_during_load_per_s"] >= KEEP_UP_PROCESSED * rate
        and figures["drained"]
        and figures["drain_s"] <= KEEP_UP_DRAIN_S
    )


async def phase_burst(
    target: Target, gen: LoadGenerator, args: argparse.Namespace
) -> dict[str, Any]:
    prefix = f"burst-{secrets.token_hex(4)}"
    figures = await measure(
        target,
        "burst",
        lambda: gen.closed(target.webhook_url, target.api_key, prefix, "distinct", args.duration),
        args.duration,
        args.drain_timeout,
    )
    figures["alerts_match_events"] = figures["new_alerts"] == figures["stored_events"]
    return figures


async def phase_sustained(
    target: Target, poster: Poster, args: argparse.Namespace, rate: float
) -> dict[str, Any]:
    prefix = f"sustained-{secrets.token_hex(4)}"
    count = int(rate * args.duration)
    figures = await measure(
        target,
        "sustained",
        lambda: open_loop(poster, lambda i: alert_body(f"{prefix}-{i}"), rate=rate, count=count),
        args.duration,
        args.drain_timeout,
    )
    figures.update(rate=rate, events=count)
    figures["alerts_match_events"] = figures["new_alerts"] == figures["stored_events"]
    figures["kept_up"] = kept_up(figures)
    return figures


async def phase_storm(target: Target, poster: Poster, args: argparse.Namespace) -> dict[str, Any]:
    fingerprint = f"storm-{secrets.token_hex(4)}"
    body = alert_body(fingerprint)
    count = int(args.storm_rate * args.storm_duration)
    figures = await measure(
        target,
        "storm",
        lambda: open_loop(poster, lambda _: body, rate=args.storm_rate, count=count),
        args.storm_duration,
        args.drain_timeout,
    )
    alerts, occurrences = await target.db.fingerprint(fingerprint)
    accepted = figures["load"]["accepted"]
    figures.update(
        rate=args.storm_rate,
        events=count,
        fingerprint_alerts=alerts,
        occurrences=occurrences,
        exact=alerts == 1 and occurrences == accepted == figures["stored_events"],
    )
    return figures


@dataclass(frozen=True)
class Arrival:
    perf: float  # time.perf_counter() when the event arrived
    wall: float  # time.time() then
    cursor: str  # the feed's cursor: a Redis stream id ("<ms>-<seq>") in production


async def subscribe(
    url: str, token: str, arrivals: dict[str, Arrival], kinds: Counter[str]
) -> None:
    from gql import Client, gql
    from gql.transport.websockets import WebsocketsTransport

    transport = WebsocketsTransport(
        url=url,
        init_payload={"Authorization": f"Bearer {token}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        async for result in session.subscribe(gql(SUBSCRIPTION)):
            arrived = Arrival(time.perf_counter(), time.time(), "")
            event = result["alertEvents"]
            kinds[event["kind"]] += 1
            if event["kind"] == "CREATED":
                arrivals.setdefault(
                    event["alert"]["fingerprint"],
                    Arrival(arrived.perf, arrived.wall, str(event["cursor"])),
                )


SEGMENTS = (
    ("POST to received_at", "the webhook before the inbox insert: HTTP, auth"),
    ("received_at to processed_at", "inbox commit, queue, processing"),
    ("processed_at to published", "after processing, until the feed entry (production)"),
    ("published to delivered", "feed to subscriber: fan-out, re-read, GraphQL, WebSocket"),
    ("processed_at to delivered", "everything after processing"),
)


def latency_segments(
    sent_wall: dict[str, float],
    inbox: dict[str, tuple[float, float]],
    arrivals: dict[str, Arrival],
) -> dict[str, dict[str, float | None]]:
    """p50/p99 of each step of webhook -> subscriber, from wall-clock stamps taken by
    the client (POST, arrival), OpsWatch (received_at, processed_at) and Redis (the
    stream id of the feed entry), all on this machine's clock."""
    parts: dict[str, list[float]] = {name: [] for name, _ in SEGMENTS}
    for name, sent in sent_wall.items():
        stamps = inbox.get(name)
        arrival = arrivals.get(name)
        if stamps is None or arrival is None:
            continue
        received, processed = stamps
        parts["POST to received_at"].append(received - sent)
        parts["received_at to processed_at"].append(processed - received)
        parts["processed_at to delivered"].append(arrival.wall - processed)
        millis, dash, _ = arrival.cursor.partition("-")
        if dash and millis.isdigit():
            published = int(millis) / 1000
            parts["processed_at to published"].append(published - processed)
            parts["published to delivered"].append(arrival.wall - published)
    result: dict[str, dict[str, float | None]] = {}
    for name, values in parts.items():
        if values:
            ms = [v * 1000 for v in values]
            p50, p99 = percentile(ms, 0.50), percentile(ms, 0.99)
            result[name] = {
                "p50": round(p50, 1) if p50 is not None else None,
                "p99": round(p99, 1) if p99 is not None else None,
            }
    return result


async def phase_latency(target: Target, poster: Poster, args: argparse.Namespace) -> dict[str, Any]:
    prefix = f"latency-{secrets.token_hex(4)}"
    arrivals: dict[str, Arrival] = {}
    kinds: Counter[str] = Counter()
    listener = asyncio.get_running_loop().create_task(
        subscribe(target.ws_url, target.token, arrivals, kinds)
    )
    try:
        # The subscription is live once it delivers an event of ours.
        for attempt in range(40):
            fingerprint = f"warmup-{prefix}-{attempt}"
            await poster.post(alert_body(fingerprint))
            for _ in range(50):
                if fingerprint in arrivals or listener.done():
                    break
                await asyncio.sleep(0.01)
            if listener.done():
                raise BenchError(f"the subscription ended: {listener.exception()!r}")
            if fingerprint in arrivals:
                break
        else:
            raise BenchError("the subscription delivered nothing within 20 s")

        sent_at: dict[str, float] = {}
        sent_wall: dict[str, float] = {}
        count = int(args.rate * args.latency_duration)

        def note(index: int, at: float) -> None:
            sent_at[f"{prefix}-{index}"] = at
            sent_wall[f"{prefix}-{index}"] = time.time()

        figures = await measure(
            target,
            "latency",
            lambda: open_loop(
                poster,
                lambda i: alert_body(f"{prefix}-{i}"),
                rate=args.rate,
                count=count,
                on_send=note,
            ),
            args.latency_duration,
            args.drain_timeout,
        )
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline and not listener.done():
            if all(name in arrivals for name in sent_at):
                break
            await asyncio.sleep(0.05)
    finally:
        listener.cancel()
        with contextlib.suppress(BaseException):
            await listener
    latencies = [
        (arrivals[name].perf - at) * 1000 for name, at in sent_at.items() if name in arrivals
    ]
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    # When the slow ones were sent: a stall shows up as one bad second, not a spread.
    first = min(sent_at.values(), default=0.0)
    by_second: dict[int, list[float]] = {}
    for name, at in sent_at.items():
        if name in arrivals:
            by_second.setdefault(int(at - first), []).append((arrivals[name].perf - at) * 1000)
    worst = sorted(by_second.items(), key=lambda item: -max(item[1]))[:3]
    figures["segments_ms"] = latency_segments(
        sent_wall, await target.db.inbox_times(prefix + "-"), arrivals
    )
    figures.update(
        rate=args.rate,
        delivered=len(latencies),
        missing=len(sent_at) - len(latencies),
        latency_p50_ms=round(p50, 2) if p50 is not None else None,
        latency_p99_ms=round(p99, 2) if p99 is not None else None,
        latency_max_ms=round(max(latencies), 2) if latencies else None,
        event_kinds=dict(kinds),
        worst_seconds=[
            {
                "second": second,
                "max_ms": round(max(values), 1),
                "over_50ms": sum(v > 50 for v in values),
            }
            for second, values in worst
        ],
    )
    return figures


async def warm_up(target: Target, poster: Poster, args: argparse.Namespace) -> None:
    """A few hundred alerts through the whole path: pools open, code paths warm."""
    prefix = f"warmup-{secrets.token_hex(4)}"
    result = await open_loop(poster, lambda i: alert_body(f"{prefix}-{i}"), rate=200, count=300)
    if result.accepted != result.sent:
        raise BenchError(f"warm-up: only {result.accepted} of {result.sent} answered 202: {result}")
    drained, _, counts = await wait_drained(target.db, 60)
    if not drained:
        raise BenchError(f"warm-up: events not processed within 60 s ({counts})")


async def run_phases(
    target: Target, gen: LoadGenerator, args: argparse.Namespace
) -> dict[str, Any]:
    poster = Poster(gen.session, target.webhook_url, target.api_key)
    await warm_up(target, poster, args)
    sustain_rate = args.sustain_rate or (
        SUSTAINED_TARGET if target.shape == "production" else EMBEDDED_TARGET
    )
    results: dict[str, Any] = {}
    for phase in args.phases:
        say(f"{target.shape}: phase {phase}")
        if phase == "burst":
            figures = await phase_burst(target, gen, args)
        elif phase == "sustained":
            figures = await phase_sustained(target, poster, args, sustain_rate)
        elif phase == "storm":
            figures = await phase_storm(target, poster, args)
        elif phase == "noisy":
            figures = await phase_noisy(target, poster, args)
        else:
            figures = await phase_latency(target, poster, args)
        results[phase] = figures
        if one_line(figures):  # the noisy phase said its own
            say(f"{target.shape}: {phase}: {one_line(figures)}")
        if not figures["drained"]:
            say(f"{target.shape}: backlog not drained; skipping the remaining phases")
            break
    return results


def one_line(figures: dict[str, Any]) -> str:
    keys = (
        "accepted_per_s",
        "processed_during_load_per_s",
        "processed_per_s",
        "drain_s",
        "kept_up",
        "exact",
        "occurrences",
        "latency_p50_ms",
        "latency_p99_ms",
        "missing",
    )
    return ", ".join(f"{k}={figures[k]}" for k in keys if k in figures)
