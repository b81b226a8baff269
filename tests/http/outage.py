"""Making the database really unreachable for a while, for tests of the 503 answers.

``database_unreachable``: the test process's own connection is pointed at a place
where no database answers (a closed port; an SQLite file in a directory that does
not exist), so every statement really fails to connect, and is pointed back after.

``TcpProxy``: a server process reaches PostgreSQL through it; ``cut`` closes the
listener and every connection through it (what a stopped server looks like from
outside: connections reset, new ones refused), ``restore`` listens again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from opswatch.queue.inprocess import InProcessQueue
from tests.conftest import BACKEND, free_port


@contextlib.asynccontextmanager
async def database_unreachable(tmp_path: Path, queue: InProcessQueue) -> AsyncIterator[None]:
    """``queue``'s jobs are waited for first: Tortoise's SQLite client hands a
    statement the connection it had when the statement began, and one begun on the
    connection closed here would wait for it forever."""
    await queue.drain()
    client = connections.get("default")
    unreachable: object
    if BACKEND == "sqlite":
        attribute, unreachable = "filename", str(tmp_path / "missing" / "opswatch.sqlite3")
    else:
        attribute, unreachable = "port", free_port()  # nothing listens there
    saved = getattr(client, attribute)
    await _swap(client, attribute, unreachable)
    try:
        yield
    finally:
        await _swap(client, attribute, saved)


async def _swap(client: BaseDBAsyncClient, attribute: str, value: object) -> None:
    lock: asyncio.Lock | None = getattr(client, "_lock", None)  # SQLite's one connection
    async with lock or contextlib.nullcontext():
        await client.close()
        setattr(client, attribute, value)


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65_536):
                writer.write(chunk)
                await writer.drain()
        finally:
            self._writers.discard(writer)
            writer.transport.abort()
