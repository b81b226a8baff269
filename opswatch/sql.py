"""Raw SQL for the few statements the ORM cannot express (atomic upserts, claims).

SQLite and PostgreSQL differ in placeholders and in how values travel; this
keeps those differences in one place so each statement is written once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

# ":name", but not the second colon of a PostgreSQL "::cast".
_MARKER = re.compile(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)")


def is_sqlite(connection: BaseDBAsyncClient) -> bool:
    return bool(connection.capabilities.dialect == "sqlite")


class Statement:
    """Builds one statement with ``:name`` markers turned into the dialect's placeholders."""

    def __init__(self, connection: BaseDBAsyncClient) -> None:
        self.connection = connection
        self.sqlite = is_sqlite(connection)

    def compile(self, sql: str, params: dict[str, Any]) -> tuple[str, list[Any]]:
        values: list[Any] = []
        numbers: dict[str, int] = {}

        def placeholder(match: re.Match[str]) -> str:
            name = match.group(1)
            if self.sqlite:  # "?" is positional: one value per occurrence
                values.append(self.value(params[name]))
                return "?"
            if name not in numbers:
                values.append(self.value(params[name]))
                numbers[name] = len(values)
            return f"${numbers[name]}"

        return _MARKER.sub(placeholder, sql), values

    def value(self, value: Any) -> Any:
        if isinstance(value, dict | list):
            return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
        if self.sqlite:
            if isinstance(value, uuid.UUID):
                return str(value)
            if isinstance(value, datetime):
                return str(value)  # the format Tortoise itself stores in SQLite
            if isinstance(value, bool):
                return int(value)
        return value

    async def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        text, values = self.compile(sql, params)
        result: list[dict[str, Any]] = await self.connection.execute_query_dict(text, values)
        return result

    async def insert_rows(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        rows: Sequence[Sequence[Any]],
        suffix: str = "",
    ) -> list[dict[str, Any]]:
        """Insert many rows in one statement; ``columns`` pairs names with PostgreSQL
        types, ``suffix`` may add ON CONFLICT and RETURNING.

        PostgreSQL gets one array per column through ``unnest``: the statement's text
        is the same for 1 row or 500, so it is parsed and planned once per
        connection instead of once per batch size, and a batch carries 30
        parameters, not 30 per row. SQLite gets the rows as VALUES, in chunks
        under its limit of 32,766 parameters.
        """
        if not rows:
            return []
        names = ", ".join(name for name, _ in columns)
        if not self.sqlite:
            arrays = ", ".join(
                f"${i}::{'text' if kind == 'jsonb' else kind}[]"
                for i, (_, kind) in enumerate(columns, start=1)
            )
            selected = ", ".join(
                f"given.{name}::jsonb" if kind == "jsonb" else f"given.{name}"
                for name, kind in columns
            )
            values = [[self.value(value) for value in column] for column in zip(*rows, strict=True)]
            # Only column names and types are interpolated; the rows travel as parameters.
            return await self.connection.execute_query_dict(
                f"INSERT INTO {table} ({names}) SELECT {selected} "  # noqa: S608
                f"FROM unnest({arrays}) AS given({names}) {suffix}",
                values,
            )
        marks = "(" + ", ".join("?" for _ in columns) + ")"
        per_chunk = 32_000 // len(columns)
        result: list[dict[str, Any]] = []
        for start in range(0, len(rows), per_chunk):
            chunk = rows[start : start + per_chunk]
            result += await self.connection.execute_query_dict(
                f"INSERT INTO {table} ({names}) VALUES "  # noqa: S608
                + ", ".join(marks for _ in chunk)
                + f" {suffix}",
                [self.value(value) for row in chunk for value in row],
            )
        return result


def statement(connection: BaseDBAsyncClient | None = None) -> Statement:
    return Statement(connection or connections.get("default"))
