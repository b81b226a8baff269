"""Parsing ids from clients: a malformed id is simply not found."""

from __future__ import annotations

import uuid

from opswatch.errors import NotFound


def parse_id(raw: str, field: str = "id") -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise NotFound("no such record", field=field) from None
