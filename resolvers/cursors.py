"""Keyset cursors of lists ordered newest first by a time and then by id."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime

from opswatch.errors import InvalidInput


def keyset_cursor(moment: datetime, row_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{moment.isoformat()}|{row_id}".encode()).decode()


def after_keyset(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (time, id) a cursor of ``keyset_cursor`` names; a cursor of anything else
    is the client's mistake, named as ``after``."""
    try:
        moment, _, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(moment), uuid.UUID(row_id)
    except ValueError:
        raise InvalidInput("after is not a cursor from this list", field="after") from None
