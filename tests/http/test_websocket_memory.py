"""A served API process gives back the memory of closed WebSocket subscriptions.

The server is an ``opswatch api`` subprocess, so the RSS read is its own (with the
garbage collector tuned as in production). Each cycle holds 1,000 subscriptions
open at once, then closes them all; before the fix every cycle kept ~45 MB more.
A first cycle warms the process up (allocator pools, caches); the two after it
are compared.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import free_port
from tests.factories import TenantKit

SUBSCRIPTIONS = 1000
BATCH = 100
# Measured growth from the second cycle to the third: ~45 MB before the fix, 0-3 MB
# after; the margin is for allocator noise on shared CI machines.
GROWTH_BOUND_MB = 15.0
FEED = "subscription { alertEvents { kind cursor alert { fingerprint } } }"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def subscribed(url: str, token: str) -> ClientConnection:
    socket = await connect(url, subprotocols=["graphql-transport-ws"], open_timeout=30)
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    await socket.send(json.dumps(init))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": FEED}}))
    # Handled in order: after the pong, the subscription is running.
    await socket.send(json.dumps({"type": "ping"}))
    assert json.loads(await socket.recv())["type"] == "pong"
    return socket


async def cycle(url: str, token: str) -> None:
    sockets: list[ClientConnection] = []
    try:
        for _ in range(0, SUBSCRIPTIONS, BATCH):
            sockets += await asyncio.gather(*(subscribed(url, token) for _ in range(BATCH)))
    finally:
        await asyncio.gather(*(socket.close() for socket in sockets))


async def settled(pid: int) -> float:
    """RSS once the server has torn the connections down (it stops changing)."""
    last = rss_mb(pid)
    for _ in range(20):
        await asyncio.sleep(0.5)
        now = rss_mb(pid)
        if abs(now - last) < 0.5:
            return now
        last = now
    return last


async def test_closed_subscriptions_give_their_memory_back(
    test_env: dict[str, str], acme: TenantKit, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        **test_env,
        "OPSWATCH_MAX_WS_CONNECTIONS_PER_TOKEN": str(SUBSCRIPTIONS),
    }
    log = tmp_path / "api.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "opswatch"), "api", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(300):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                await writer.wait_closed()
                break
            except OSError:
                await asyncio.sleep(0.1)
        url = f"ws://127.0.0.1:{port}/graphql"
        await cycle(url, acme.admin_token)
        await cycle(url, acme.admin_token)
        first = await settled(server.pid)
        await cycle(url, acme.admin_token)
        second = await settled(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"server RSS after cycle 1: {first:.1f} MB, after cycle 2: {second:.1f} MB")
    assert second - first < GROWTH_BOUND_MB, log.read_text()[-2000:]
