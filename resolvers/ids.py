"""Parsing ids and slugs from clients.

A malformed id (not a UUID, a slug no runbook can have) is the client's mistake
and is refused as INVALID_INPUT naming the argument, before any query; a
well-formed id of nothing this tenant owns stays "not found", so ids reveal
nothing across tenants.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from opswatch import validation
from opswatch.errors import InvalidInput

# Short alert ids are 6 characters today; the column holds up to 12.
_SHORT_ID = re.compile(r"^[a-z0-9]{1,12}$")
_SHOWN = 40  # characters of a refused value quoted back


def _shown(raw: object) -> str:
    text = str(raw)
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "…")


def parse_id(raw: object, field: str = "id") -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise InvalidInput(f"{field}: {_shown(raw)} is not an id (a UUID)", field=field) from None


def id_text(raw: object, field: str = "id") -> str:
    """``parse_id`` for the services that take ids as text."""
    return str(parse_id(raw, field))


def optional_id_text(raw: object | None, field: str) -> str | None:
    """None stays None (nothing chosen); anything else, "" included, must be an id."""
    return None if raw is None else id_text(raw, field)


def id_texts(raws: Sequence[object], field: str, *, indexed: bool = True) -> list[str]:
    """Each named ``field[i]``, or ``field`` itself when its service names it so."""
    return [id_text(raw, f"{field}[{i}]" if indexed else field) for i, raw in enumerate(raws)]


def alert_id(raw: object, field: str = "id") -> str:
    """An alert's UUID or its short id (like ``abc123``)."""
    text = str(raw).strip().lower()
    try:
        return str(uuid.UUID(text))
    except ValueError:
        pass
    if not _SHORT_ID.match(text):
        raise InvalidInput(
            f"{field}: {_shown(raw)} is neither an alert id (a UUID) nor a short id", field=field
        )
    return text


def slug(raw: str, field: str = "slug") -> str:
    return validation.slug(field, raw.strip())
