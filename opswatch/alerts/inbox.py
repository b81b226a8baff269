"""The inbox: received alert events, made durable before the sender hears 2xx.

Concurrent requests share commits: while one INSERT+COMMIT is in flight, the
rows of newer requests gather, and the next flush writes them all at once.
Every request still waits for the commit that holds its rows before it
answers, so nothing is acknowledged that is not durable; under load, a
hundred requests cost one commit instead of a hundred.

A shared commit must not let one request fail its neighbours: when the
database refuses a shared commit for its data (not because it is down), each
request's rows are written again on their own, and only the request whose rows
are refused hears so.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from opswatch.alerts.normalize import NormalizedEvent
from opswatch.dberrors import retryable
from opswatch.models import ApiKey, Tenant
from opswatch.queue import enqueue
from opswatch.sql import Statement

log = logging.getLogger(__name__)

PROCESS_JOB = "alerts.process_pending"
INGEST_QUEUE = "ingest"  # its own queue: alerts never wait behind Slack or paging work


class Unstorable(Exception):
    """The database refused this request's rows for their data (the sender's fault
    or ours, but never worth a retry): the request is answered 422, its neighbours
    in the shared commit are not affected."""


class InboxWriter:
    def __init__(self) -> None:
        self._waiting: list[Waiter] = []
        self._flushing = False
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def write(self, rows: list[InboxRow]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((rows, done))
        if not self._flushing:
            self._flushing = True
            self._spawn(self._flush_all())
        await done

    async def _flush_all(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    await _commit([row for rows, _ in batch for row in rows])
                except Exception as error:
                    if retryable(error) or len(batch) == 1:
                        _settle(batch, _as_answer(error))
                        continue
                    batch = await _commit_one_by_one(batch)
                await self._kick()
                _settle(batch, None)
        except BaseException:
            # Cancelled at shutdown: no request may wait forever for an answer.
            for _, done in self._waiting:
                if not done.done():
                    done.set_exception(RuntimeError("the server is shutting down"))
            self._waiting = []
            raise
        finally:
            self._flushing = False

    async def _kick(self) -> None:
        """One processing job per commit (not per request), queued before the senders
        hear 202. If the queue fails, the events are durable and the sweeper finds them."""
        from opswatch.queue.failures import note_enqueue_failure

        try:
            await enqueue(PROCESS_JOB)
        except Exception as error:
            note_enqueue_failure(PROCESS_JOB, error, "the sweeper will find the events")


Waiter = tuple[list["InboxRow"], asyncio.Future[None]]


async def _commit(rows: list[InboxRow]) -> None:
    async with in_transaction() as connection:
        await _insert(connection, rows)


async def _commit_one_by_one(batch: list[Waiter]) -> list[Waiter]:
    """Each request's rows in a commit of their own, after their shared commit was
    refused; answers the refused ones and returns those now durable."""
    durable = []
    for rows, done in batch:
        try:
            await _commit(rows)
        except Exception as error:
            _settle([(rows, done)], _as_answer(error))
            continue
        durable.append((rows, done))
    return durable


def _as_answer(error: Exception) -> Exception:
    """What a waiting request raises: the database's own error when it may work
    later (the sender retries), else Unstorable."""
    if retryable(error):
        return error
    log.warning("the inbox refused a request's rows: %s", error)
    return Unstorable(str(error))


def _settle(batch: list[Waiter], error: Exception | None) -> None:
    for _, done in batch:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)


_writers: dict[asyncio.AbstractEventLoop, InboxWriter] = {}


def _writer() -> InboxWriter:
    loop = asyncio.get_running_loop()
    if loop not in _writers:
        _writers.clear()  # a process serves one loop at a time; drop writers of closed ones
        _writers[loop] = InboxWriter()
    return _writers[loop]


async def accept(
    *,
    tenant: Tenant,
    api_key: ApiKey | None,
    events: Sequence[NormalizedEvent],
    raw: Any,
) -> list[uuid.UUID]:
    """Make the events durable (returns once committed) and get them processed."""
    received_at = datetime.now(UTC)
    api_key_id = api_key.id if api_key is not None else None
    rows = [
        (
            uuid.uuid4(),
            received_at,
            tenant.id,
            api_key_id,
            event.source_format.value,
            event.fingerprint,
            event.status.value if event.status else "ignored",
            orjson.dumps(event.to_json(), option=orjson.OPT_NON_STR_KEYS).decode(),
            orjson.dumps(raw_part(raw, index), option=orjson.OPT_NON_STR_KEYS).decode(),
            # A microsecond apart, so the order of a request survives in the inbox.
            received_at + timedelta(microseconds=index),
            0,
        )
        for index, event in enumerate(events)
    ]
    await _writer().write(rows)
    return [row[0] for row in rows]


# One inbox row as the INSERT takes it, in _COLUMNS order.
InboxRow = tuple[
    uuid.UUID, datetime, uuid.UUID, uuid.UUID | None, str, str, str, str, str, datetime, int
]
_COLUMNS = (
    ("id", "uuid"),
    ("created_at", "timestamptz"),
    ("tenant_id", "uuid"),
    ("api_key_id", "uuid"),
    ("source_format", "text"),
    ("fingerprint", "text"),
    ("status", "text"),
    ("normalized", "jsonb"),
    ("payload", "jsonb"),
    ("received_at", "timestamptz"),
    ("attempts", "int"),
)


async def _insert(connection: BaseDBAsyncClient, rows: list[InboxRow]) -> None:
    await Statement(connection).insert_rows("alert_event", _COLUMNS, rows)


def raw_part(raw: Any, index: int) -> dict[str, Any]:
    """The sender's JSON for one event, so a 100-alert group is not stored 100 times."""
    if isinstance(raw, list):
        item = raw[index]
        return item if isinstance(item, dict) else {"value": item}
    if isinstance(raw, dict) and isinstance(raw.get("alerts"), list):
        envelope = {key: value for key, value in raw.items() if key != "alerts"}
        return {**envelope, "alerts": [raw["alerts"][index]]}
    return raw if isinstance(raw, dict) else {"value": raw}
