"""Telling a database that cannot answer now from data it refused, on the real errors."""

from __future__ import annotations

import asyncpg
import pytest
from tortoise import connections
from tortoise.exceptions import OperationalError

from opswatch.dberrors import refused_data, retryable
from tests.conftest import BACKEND


async def failure_of(sql: str, *values: object) -> Exception:
    connection = connections.get("default")
    try:
        if values:
            await connection.execute_query(sql, list(values))
        else:
            await connection.execute_script(sql)
    except Exception as error:
        return error
    raise AssertionError(f"{sql!r} did not fail")


@pytest.mark.postgres_only
@pytest.mark.parametrize(
    ("sql", "values"),
    [
        # A value too long for its column (a cast would cut it quietly instead).
        ("CREATE TEMP TABLE short (v varchar(3)); INSERT INTO short VALUES ('toolong')", []),
        ("SELECT $1::text", ["a\x00b"]),  # NUL
        ('SELECT \'{"a": "\\u0000"}\'::jsonb', []),
        ("SELECT 1 / 0", []),
        ("SELECT $1::int", ["not a number"]),  # refused by asyncpg before it is sent
    ],
)
async def test_data_the_database_refuses_is_never_retried(sql: str, values: list[object]) -> None:
    if BACKEND != "postgres":
        pytest.skip("PostgreSQL's own errors")
    error = await failure_of(sql, *values)
    assert refused_data(error)
    assert not retryable(error)


def test_a_closed_connection_or_a_shutdown_is_retried() -> None:
    assert retryable(OSError("connection refused"))
    assert retryable(asyncpg.exceptions.ConnectionDoesNotExistError("closed"))
    assert retryable(asyncpg.InternalClientError("cannot switch to state 15"))
    shutdown = asyncpg.exceptions.AdminShutdownError("terminating connection")
    wrapped = OperationalError(shutdown)
    wrapped.__cause__ = shutdown
    assert retryable(wrapped)
    assert retryable(asyncpg.exceptions.DeadlockDetectedError("deadlock"))
    assert retryable(OSError("Multiple exceptions: [Errno 111] Connect call failed"))
    assert not retryable(ValueError("a bug"))
    assert not retryable(IsADirectoryError(21, "Is a directory"))
    assert not retryable(OSError(36, "File name too long"))


def test_an_error_raised_from_none_is_not_its_context() -> None:
    """A refusal raised while handling a network error (``from None``) is the refusal;
    without ``from None`` the network error still counts (a broken connection)."""

    def raised(suppress: bool) -> Exception:
        try:
            try:
                raise ConnectionRefusedError("unreachable")
            except ConnectionRefusedError:
                if suppress:
                    raise ValueError("could not be reached; nothing was stored") from None
                raise ValueError("failed while the connection broke")  # noqa: B904
        except ValueError as error:
            return error
        raise AssertionError("not raised")

    assert not retryable(raised(suppress=True))
    assert retryable(raised(suppress=False))
