"""Telling a database that cannot answer now from a statement it will never accept.

The two call for opposite answers. A database that is down, restarting, out of
connections or in a deadlock is retried (a 503 with ``Retry-After``, a job
retried later), and the work stays as it is. A statement refused for its data
(a value too long, a character the database cannot store) fails the same way
every time: retrying it forever is how one bad event stopped the pipeline, and
answering it with a 503 makes a sender retry it forever.

Tortoise wraps driver errors in its own types (a PostgreSQL data error becomes
an ``OperationalError``, as does a locked SQLite file), so the classification
looks at the whole chain of causes for the driver's own error.
"""

from __future__ import annotations

import errno
import socket
import sqlite3
from collections.abc import Iterator

import asyncpg
from asyncpg.exceptions import _base as asyncpg_client
from tortoise.exceptions import DBConnectionError

# SQLSTATE classes that mean "not now": connection exception, transaction
# rollback (serialization failure, deadlock), insufficient resources, operator
# intervention (shutdown, cannot connect now, statement timeout), system error.
_RETRYABLE_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
# Lock not available, object in use, and 55000 as a database refusing connections
# for now ("database is not currently accepting connections").
_RETRYABLE_SQLSTATES = frozenset({"55P03", "55006", "55000"})
_SQLITE_BUSY = ("database is locked", "database table is locked", "unable to open", "disk i/o")
# Socket errors of a server that went away; an OSError with another number (a file
# that is a directory, a name too long) is a program's error, not an outage.
_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EHOSTDOWN,
        errno.EADDRNOTAVAIL,
    }
)


def causes(error: BaseException) -> Iterator[BaseException]:
    """The error and what caused it, outermost first (each once). ``raise … from None``
    ends the chain: a refusal raised while handling a network error (Slack unreachable
    while configuring it) is the refusal, not a database outage."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if current.__cause__ is not None:
            current = current.__cause__
        elif current.__suppress_context__:
            current = None
        else:
            current = current.__context__


def retryable(error: BaseException) -> bool:
    """True when the database could not do it now, and asking again later may work."""
    for cause in causes(error):
        if isinstance(cause, asyncpg_client.DataError):
            return False  # a value asyncpg cannot encode: an InterfaceError, but data
        if isinstance(cause, asyncpg.PostgresError):
            state = str(getattr(cause, "sqlstate", "") or "")
            return state[:2] in _RETRYABLE_SQLSTATE_CLASSES or state in _RETRYABLE_SQLSTATES
        if isinstance(cause, sqlite3.OperationalError):
            text = str(cause).lower()
            return any(marker in text for marker in _SQLITE_BUSY)
        # A connection that broke mid-statement (server restart, shutdown) surfaces
        # as the client's own errors: "connection was closed", or asyncpg's
        # "cannot switch to state" when a transaction's connection went away.
        if isinstance(
            cause,
            TimeoutError
            | ConnectionError
            | socket.gaierror
            | DBConnectionError
            | asyncpg.InterfaceError
            | asyncpg.InternalClientError,
        ):
            return True
        if isinstance(cause, OSError):
            # asyncio reports a connect that failed on every address of a host as a
            # plain OSError without a number ("Multiple exceptions: ...").
            return cause.errno is None or cause.errno in _NETWORK_ERRNOS
    return False


def refused_data(error: BaseException) -> bool:
    """True when the database refused the statement for the values in it."""
    for cause in causes(error):
        if isinstance(cause, asyncpg_client.DataError):
            return True
        if isinstance(cause, asyncpg.PostgresError):
            state = str(getattr(cause, "sqlstate", "") or "")
            return state[:2] in ("22", "23", "54")  # data exception, integrity, limits
        if isinstance(cause, sqlite3.DataError | sqlite3.IntegrityError):
            return True
    return False
