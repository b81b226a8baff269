"""Raw SQL for the few statements the ORM cannot express (atomic upserts, claims).

SQLite and PostgreSQL differ in placeholders and in how values travel; this
keeps those differences in one place so each statement is written once.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Any

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
            return json.dumps(value)
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


def statement(connection: BaseDBAsyncClient | None = None) -> Statement:
    return Statement(connection or connections.get("default"))
