"""The noisy-neighbour phase (``--phases noisy``): can one tenant's storm, paging
into a telephony provider that is down, slow down another tenant's alerts?

Set-up, through the CLI and GraphQL as an operator would: tenant A
(``noisy-a``) with an API key, one admin user with a phone number, Twilio as its
telephony provider (``opswatch tenant configure-telephony``), a weekly roster
with that user as its only member (``createRoster``, started two weeks ago), and
a default escalation policy (``createEscalationPolicy``, ``isDefault``) whose
tier 1 pages that roster by SMS and PHONE; tenant B (``quiet-b``) with an API key
and nothing else. The servers were started with ``OPSWATCH_TWILIO_API_URL``
pointing at a loopback port that is "unreachable" (``--noisy-provider``):
``503`` (default) is a tiny server in this process answering every request 503,
and counting them; ``refused`` is a port nobody listens on. The production shape runs ``opswatch
scheduler`` too in this phase, as deployed (its periodic jobs tick the engine and,
from the provider breaker on, resume parked pages); ``opswatch serve`` has its own.

Load: A posts ``--noisy-alerts`` (10,000) distinct alerts, as fast as they are
answered (closed loop, ``--concurrency`` connections) or at
``--noisy-storm-rate``; at the same time B posts distinct alerts at
``--noisy-b-rate`` (10/s), from the storm's start until A's inbox backlog is
gone and ``--noisy-tail`` seconds more (deliveries keep retrying then).

B's latency is from just before its POST to its inbox row's ``processed_at``
(both wall-clock readings of this machine), per window: the storm, until A's
backlog drained, the tail. Also reported: A's drain time (end of the storm until
A's last inbox row was processed), when the engine had taken tier 1 for every
A alert, escalation_event rows by status at the end, the requests the dead
provider got, CPU per component per window, PostgreSQL's deadlock count of the
bench database (``pg_stat_database.deadlocks``, before and after), and a
timeline: the inbox backlog per tenant, A's alerts still waiting for tier 1, the
escalation events by status and the Redis queues (production) once a second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from .base import LOOPBACK, MAX_IN_FLIGHT, REQUEST_TIMEOUT_S, BenchError, say
from .counting import parse_time
from .cpu import speed_check
from .load import Poster, alert_body, closed_count, open_loop, percentile
from .processes import free_port, run_cli

TENANT_A = "noisy-a"
TENANT_B = "quiet-b"
FROM_NUMBER = "+15005550006"
ONCALL_PHONE = "+4915100000001"
B_TARGET_P99_MS = 2000.0
NOISY_SAMPLE_S = 1.0
B_SETTLE_S = 60.0  # B's last events: processed within this long after sending stops
PROVIDERS = ("503", "refused")
JOB_SAMPLE = 100  # messages read per Redis queue and sample, to tell which jobs wait

CREATE_ROSTER = """
mutation ($input: RosterInput!) { createRoster(input: $input) { id } }
"""
CREATE_POLICY = """
mutation ($input: EscalationPolicyInput!) { createEscalationPolicy(input: $input) { id } }
"""

# Placeholders "$n" (PostgreSQL); the SQLite reader rewrites them to "?".
INBOX_BY_TENANT = (
    "SELECT t.slug, count(e.id), "
    "coalesce(sum(CASE WHEN e.id IS NOT NULL AND e.processed_at IS NULL THEN 1 ELSE 0 END), 0) "
    "FROM tenant t LEFT JOIN alert_event e ON e.tenant_id = t.id "
    "WHERE t.slug IN ('noisy-a', 'quiet-b') GROUP BY t.slug"
)
ESCALATION_BY_STATUS = "SELECT status, count(*) FROM escalation_event GROUP BY status"
AWAITING_TIER_1 = (
    "SELECT count(*) FROM alert WHERE tenant_id = (SELECT id FROM tenant WHERE slug = $1) "
    "AND escalation_state = 'active' AND escalation_tier = 0"
)
ALERTS_OF = "SELECT count(*) FROM alert WHERE tenant_id = (SELECT id FROM tenant WHERE slug = $1)"
ATTEMPTS = "SELECT coalesce(sum(attempts), 0) FROM escalation_event"
PROCESSED_OF = (
    "SELECT fingerprint, processed_at, received_at FROM alert_event "
    "WHERE tenant_id = (SELECT id FROM tenant WHERE slug = $1) AND processed_at IS NOT NULL"
)
DEADLOCKS = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
# What the bench database's busy backends wait for (PostgreSQL only): Lock, LWLock,
# IO, or none (on CPU). The bench's own connection is left out.
WAITS = (
    "SELECT coalesce(wait_event_type || ':' || wait_event, 'on CPU'), count(*) "
    "FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' "
    "AND pid <> pg_backend_pid() GROUP BY 1 ORDER BY 2 DESC"
)


class DeadTelephony:
    """Where the tenant's Twilio requests go: a server answering 503 to everything
    (counting the requests), or a loopback port where nothing listens."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests: Counter[str] = Counter()
        self.runner: web.AppRunner | None = None
        self.url = ""

    def describe(self) -> str:
        if self.mode == "503":
            return f"unreachable: every request answered 503 ({self.url})"
        return f"unreachable: connection refused ({self.url}, nothing listens)"

    async def _answer(self, request: web.Request) -> web.Response:
        kind = request.path.rsplit("/", 1)[-1].removesuffix(".json") or "other"
        self.requests[kind] += 1
        body = {"code": 20503, "message": "Service unavailable", "status": 503, "more_info": ""}
        return web.json_response(body, status=503)

    async def start(self) -> str:
        port = free_port()
        if self.mode == "503":
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._answer)
            self.runner = web.AppRunner(app, access_log=None)
            await self.runner.setup()
            await web.TCPSite(self.runner, LOOPBACK, port).start()
        self.url = f"http://{LOOPBACK}:{port}"
        say(f"telephony provider for the noisy phase: {self.describe()}")
        return self.url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


async def graphql(
    session: aiohttp.ClientSession, url: str, token: str, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    payload = {"query": query, "variables": variables}
    async with session.post(url, json=payload, headers=headers) as response:
        answer = await response.json(content_type=None)
    if response.status != 200 or answer.get("errors"):
        raise BenchError(f"GraphQL answered {response.status}: {answer.get('errors')}")
    data: dict[str, Any] = answer["data"]
    return data


async def provision(target: Any, session: aiohttp.ClientSession) -> tuple[str, str]:
    """Tenant A (paging by SMS and phone through Twilio) and tenant B; their API keys."""
    env = target.env
    await run_cli(env, "tenant", "create", "Noisy A", "--slug", TENANT_A, "--json")
    await run_cli(env, "tenant", "create", "Quiet B", "--slug", TENANT_B, "--json")
    key_a = await run_cli(env, "apikey", "create", "--tenant", TENANT_A, "--name", "a", "--json")
    key_b = await run_cli(env, "apikey", "create", "--tenant", TENANT_B, "--name", "b", "--json")
    admin = await run_cli(
        env,
        *("user", "create", "--tenant", TENANT_A, "--email", "oncall@a.example"),
        *("--name", "On call A", "--role", "admin", "--phone", ONCALL_PHONE, "--json"),
    )
    await run_cli(
        env,
        *("tenant", "configure-telephony", TENANT_A, "--provider", "twilio"),
        *("--account-sid", "AC" + secrets.token_hex(16), "--auth-token", secrets.token_hex(16)),
        *("--from", FROM_NUMBER, "--json"),
    )
    url, token = target.base_url + "/graphql", str(admin["token"])
    roster = await graphql(
        session,
        url,
        token,
        CREATE_ROSTER,
        {
            "input": {
                "name": "A on call",
                "timezone": "UTC",
                "startDate": (date.today() - timedelta(weeks=2)).isoformat(),
                "rotationLengthDays": 7,
                "handoffTime": "09:00",
                "memberIds": [admin["id"]],
            }
        },
    )
    tier = {
        "delayMinutes": 5,
        "channels": ["SMS", "PHONE"],
        "rosterIds": [roster["createRoster"]["id"]],
    }
    policy = {"name": "A pages", "isDefault": True, "tiers": [tier]}
    await graphql(session, url, token, CREATE_POLICY, {"input": policy})
    return str(key_a["key"]), str(key_b["key"])


async def send_paced(
    poster: Poster,
    prefix: str,
    rate: float,
    stop: asyncio.Event,
    sent_wall: dict[str, float],
    answered: dict[str, int | None],
) -> int:
    """Distinct alerts at ``rate`` per second until ``stop`` is set, noting when each
    was sent and its answer; how many were skipped because MAX_IN_FLIGHT were
    already waiting."""
    pending: set[asyncio.Task[None]] = set()
    started = time.perf_counter()
    index = skipped = 0

    async def answer(name: str) -> None:
        answered[name] = await poster.post(alert_body(name))

    while not stop.is_set():
        delay = started + index / rate - time.perf_counter()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                break
        name = f"{prefix}-{index}"
        index += 1
        if len(pending) >= MAX_IN_FLIGHT:
            skipped += 1
            continue
        sent_wall[name] = time.time()
        task = asyncio.get_running_loop().create_task(answer(name))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(set(pending), timeout=REQUEST_TIMEOUT_S + 5)
    return skipped


async def queue_depths(client: Any, namespace: str) -> tuple[dict[str, int], dict[str, int]]:
    """Messages per Dramatiq queue not yet acknowledged (waiting, delayed or running),
    and which jobs they are: the actors of up to JOB_SAMPLE random ones per queue,
    scaled to the queue's size (an estimate)."""
    found: dict[str, int] = {}
    jobs: Counter[str] = Counter()
    async for key in client.scan_iter(match=f"{namespace}:*.msgs", count=100):
        name = key.decode().removeprefix(namespace + ":").removesuffix(".msgs")
        size = int(await client.hlen(key))
        found[name] = size
        if not size:
            continue
        drawn = await client.hrandfield(key, JOB_SAMPLE, withvalues=True)
        actors = Counter(json.loads(value).get("actor_name", "?") for value in drawn[1::2] if value)
        for actor, seen in actors.items():
            jobs[actor] += round(size * seen / max(1, sum(actors.values())))
    return dict(sorted(found.items())), dict(jobs.most_common())


async def sample(target: Any, started: float, timeline: list[dict[str, Any]]) -> None:
    redis_client: Any = None
    namespace = target.env.get("OPSWATCH_REDIS_NAMESPACE")
    if namespace:
        import redis.asyncio as aioredis

        redis_client = aioredis.Redis.from_url(target.env["OPSWATCH_REDIS_URL"])
    try:
        while True:
            inbox = {
                slug: (stored, pending)
                for slug, stored, pending in await rows(target, INBOX_BY_TENANT)
            }
            point: dict[str, Any] = {
                "t": round(time.perf_counter() - started, 1),
                "a_pending": inbox.get(TENANT_A, (0, 0))[1],
                "b_pending": inbox.get(TENANT_B, (0, 0))[1],
                "a_stored": inbox.get(TENANT_A, (0, 0))[0],
                "a_awaiting_tier_1": (await rows(target, AWAITING_TIER_1, TENANT_A))[0][0],
                "escalation": {s: n for s, n in await rows(target, ESCALATION_BY_STATUS)},
            }
            if redis_client is not None:
                point["queues"], point["jobs"] = await queue_depths(redis_client, namespace)
                point["waits"] = {w: n for w, n in await rows(target, WAITS)}
            timeline.append(point)
            await asyncio.sleep(NOISY_SAMPLE_S)
    finally:
        if redis_client is not None:
            await redis_client.aclose()


async def rows(target: Any, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    result: list[tuple[Any, ...]] = await target.db.rows(sql, *args)
    return result


def spread(values: list[float]) -> dict[str, Any]:
    p50, p99 = percentile(values, 0.50), percentile(values, 0.99)
    return {
        "count": len(values),
        "p50_ms": round(p50, 1) if p50 is not None else None,
        "p99_ms": round(p99, 1) if p99 is not None else None,
        "max_ms": round(max(values), 1) if values else None,
    }


async def wait_until(check: Callable[[], Any], limit_s: float) -> bool:
    deadline = time.perf_counter() + limit_s
    while time.perf_counter() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.2)
    return False


def backend_waits(timeline: list[dict[str, Any]], marks: list[float]) -> dict[str, dict[str, int]]:
    """Per window, the active backends of every sample added up, by what they waited
    for: where PostgreSQL's time went while B waited."""
    ends = [mark - marks[0] for mark in marks[1:]]
    found: dict[str, Counter[str]] = {w: Counter() for w in ("storm", "until A drained", "tail")}
    for point in timeline:
        index = next((i for i, end in enumerate(ends) if point["t"] < end), len(ends) - 1)
        found[list(found)[index]].update(point.get("waits", {}))
    return {w: dict(c.most_common(6)) for w, c in found.items() if c}


async def phase_noisy(target: Any, poster: Poster, args: argparse.Namespace) -> dict[str, Any]:
    session = poster.session
    key_a, key_b = await provision(target, session)
    reference_ms = speed_check()
    postgres = target.shape == "production"
    deadlocks_before = (await rows(target, DEADLOCKS))[0][0] if postgres else None
    storm_a = Poster(session, target.webhook_url, key_a)
    # B's own connections, kept idle for less than uvicorn's 5 s keep-alive: reusing
    # one the server has just closed fails a request (ClientOSError) that never
    # reached OpsWatch, which would be the client's fault counted as B's.
    b_session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=MAX_IN_FLIGHT, keepalive_timeout=2),
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
    )
    steady_b = Poster(b_session, target.webhook_url, key_b)
    prefix_a, prefix_b = f"a-{secrets.token_hex(4)}", f"b-{secrets.token_hex(4)}"
    sent_b: dict[str, float] = {}
    answered_b: dict[str, int | None] = {}
    stop_b = asyncio.Event()
    timeline: list[dict[str, Any]] = []
    cpu = [target.cpu.snapshot()]
    marks = [time.perf_counter()]
    wall = [time.time()]
    loop = asyncio.get_running_loop()
    sampler = loop.create_task(sample(target, marks[0], timeline))
    sender = loop.create_task(
        send_paced(steady_b, prefix_b, args.noisy_b_rate, stop_b, sent_b, answered_b)
    )

    def body(i: int) -> bytes:
        return alert_body(f"{prefix_a}-{i}")

    async def a_drained() -> bool:
        inbox = {slug: pending for slug, _, pending in await rows(target, INBOX_BY_TENANT)}
        return inbox.get(TENANT_A, 0) == 0

    try:
        say(
            f"{target.shape}: noisy: A storms {args.noisy_alerts:,} alerts, B sends "
            f"{args.noisy_b_rate:g}/s"
        )
        if args.noisy_storm_rate:
            storm = await open_loop(
                storm_a, body, rate=args.noisy_storm_rate, count=args.noisy_alerts
            )
        else:
            storm = await closed_count(
                storm_a, body, count=args.noisy_alerts, concurrency=args.concurrency
            )
        marks.append(time.perf_counter())
        wall.append(time.time())
        cpu.append(target.cpu.snapshot())
        say(f"{target.shape}: noisy: storm sent in {marks[1] - marks[0]:.1f} s; waiting for A")
        drained = await wait_until(a_drained, args.drain_timeout)
        marks.append(time.perf_counter())
        wall.append(time.time())
        cpu.append(target.cpu.snapshot())
        say(
            f"{target.shape}: noisy: A drained={drained} after {marks[2] - marks[1]:.1f} s; "
            f"tail {args.noisy_tail:g} s"
        )
        await asyncio.sleep(args.noisy_tail)
        stop_b.set()
        skipped = await sender
        marks.append(time.perf_counter())
        wall.append(time.time())
        cpu.append(target.cpu.snapshot())
        await asyncio.sleep(1.0)  # statistics reach pg_stat_database at transaction ends

        async def b_done() -> bool:
            return len(await rows(target, PROCESSED_OF, TENANT_B)) >= steady_b.statuses["202"]

        await wait_until(b_done, B_SETTLE_S)
    finally:
        stop_b.set()
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        if not sender.done():
            sender.cancel()
            with contextlib.suppress(BaseException):
                await sender
        await b_session.close()

    stamps_b = {
        fp: (parse_time(received).timestamp(), parse_time(processed).timestamp())
        for fp, processed, received in await rows(target, PROCESSED_OF, TENANT_B)
    }
    # Per window, B's time split at the inbox row's received_at: the webhook before
    # the insert (HTTP, API), then the inbox (waiting for a batch, processing).
    webhook: dict[str, list[float]] = {"storm": [], "until A drained": [], "tail": []}
    inbox: dict[str, list[float]] = {"storm": [], "until A drained": [], "tail": []}
    latencies: dict[str, list[float]] = {"storm": [], "until A drained": [], "tail": []}
    missing = refused = 0
    by_second: dict[int, list[float]] = {}  # B's latencies by the second they were sent in
    for name, sent in sent_b.items():
        if answered_b.get(name) != 202:
            refused += 1  # not accepted (an error, or no answer): never in the inbox
            continue
        stamps = stamps_b.get(name)
        if stamps is None:
            missing += 1
            continue
        received, done = stamps
        window = "storm" if sent < wall[1] else "until A drained" if sent < wall[2] else "tail"
        latencies[window].append((done - sent) * 1000)
        webhook[window].append((received - sent) * 1000)
        inbox[window].append((done - received) * 1000)
        by_second.setdefault(int(sent - wall[0]), []).append((done - sent) * 1000)
    every = [v for values in latencies.values() for v in values]
    # When the engine had taken tier 1 for every A alert: the first sample after the
    # last one that still saw some waiting (None: some were still waiting at the end).
    busy = [p["t"] for p in timeline if p["a_awaiting_tier_1"] > 0]
    after = [p["t"] for p in timeline if busy and p["t"] > busy[-1]]
    awaiting = after[0] if after else None
    windows = ("storm", "until A drained", "tail")
    figures: dict[str, Any] = {
        "provider": target.telephony.describe() if target.telephony else "-",
        "storm": asdict(storm),
        "storm_s": round(marks[1] - marks[0], 2),
        "storm_accepted_per_s": round(storm.accepted / (marks[1] - marks[0]), 1),
        "drained": drained,
        "a_drain_s": round(marks[2] - marks[1], 2),
        "tail_s": round(marks[3] - marks[2], 2),
        "a_alerts": (await rows(target, ALERTS_OF, TENANT_A))[0][0],
        "a_tier_1_taken_at_s": awaiting,
        "a_awaiting_tier_1_at_end": (await rows(target, AWAITING_TIER_1, TENANT_A))[0][0],
        "b_rate": args.noisy_b_rate,
        "b_sent": len(sent_b),
        "b_skipped": skipped,
        "b_answers": dict(steady_b.statuses),
        "b_missing": missing,  # answered 202, not processed by the end
        "b_not_accepted": refused,
        "b_latency": spread(every),
        "b_latency_windows": {w: spread(latencies[w]) for w in windows},
        "b_post_to_received": {w: spread(webhook[w]) for w in windows},
        "b_received_to_processed": {w: spread(inbox[w]) for w in windows},
        "b_latency_by": "POST to the inbox row's processed_at",
        "escalation_events": {s: n for s, n in await rows(target, ESCALATION_BY_STATUS)},
        "delivery_claims": (await rows(target, ATTEMPTS))[0][0],
        "provider_requests": dict(target.telephony.requests) if target.telephony else {},
        "deadlocks_before": deadlocks_before,
        "deadlocks_after": (await rows(target, DEADLOCKS))[0][0] if postgres else None,
        "cpu_cores": {
            w: target.cpu.cores(cpu[i], cpu[i + 1], marks[i + 1] - marks[i])
            for i, w in enumerate(windows)
        },
        "b_worst_seconds": [
            {
                "second": s,
                "max_ms": round(max(v), 1),
                "over_2s": sum(x > B_TARGET_P99_MS for x in v),
            }
            for s, v in sorted(by_second.items(), key=lambda item: -max(item[1]))[:5]
        ],
        "speed_check_ms": reference_ms,
        "backend_waits": backend_waits(timeline, marks),
        "timeline": timeline,
    }
    figures["b_p99_met"] = bool(
        figures["b_latency"]["p99_ms"] is not None
        and figures["b_latency"]["p99_ms"] < B_TARGET_P99_MS
        and missing == 0
        and refused == 0
    )
    say(
        f"{target.shape}: noisy: B p50 {figures['b_latency']['p50_ms']} ms, p99 "
        f"{figures['b_latency']['p99_ms']} ms, max {figures['b_latency']['max_ms']} ms, "
        f"missing {missing}; A drain {figures['a_drain_s']} s; escalation "
        f"{figures['escalation_events']}"
    )
    return figures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("noisy phase (--phases noisy)")
    group.add_argument("--noisy-alerts", type=int, default=10_000, help="tenant A's storm")
    group.add_argument(
        "--noisy-storm-rate",
        type=float,
        default=None,
        help="A's alerts/s (open loop); default: as fast as answered (closed loop)",
    )
    group.add_argument("--noisy-b-rate", type=float, default=10.0, help="tenant B's alerts/s")
    group.add_argument(
        "--noisy-tail", type=float, default=60.0, help="B goes on this long after A drained"
    )
    group.add_argument(
        "--noisy-provider",
        choices=PROVIDERS,
        default="503",
        help="how the telephony provider is down: answering 503, or connection refused",
    )


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.noisy_alerts < 1 or args.noisy_b_rate <= 0 or args.noisy_tail < 0:
        parser.error("--noisy-alerts, --noisy-b-rate must be positive, --noisy-tail not negative")
    if args.noisy_storm_rate is not None and args.noisy_storm_rate <= 0:
        parser.error("--noisy-storm-rate must be positive")
