"""Looking up a row by the id a client sent, within the caller's tenant."""

from __future__ import annotations

import uuid
from typing import TypeVar

from tortoise.models import Model

from opswatch.errors import NotFound
from opswatch.models import Tenant

Owned = TypeVar("Owned", bound=Model)


async def get_owned(
    model: type[Owned], tenant: Tenant, raw_id: object, field: str, noun: str = "record"
) -> Owned:
    """The row of ``tenant`` with that id; a malformed id, or another tenant's, reads
    as missing (404 naming ``field``), so ids reveal nothing across tenants."""
    try:
        key = uuid.UUID(str(raw_id))
    except ValueError:
        raise NotFound(f"{field}: no such {noun}", field=field) from None
    row = await model.get_or_none(id=key, tenant=tenant)
    if row is None:
        raise NotFound(f"{field}: no such {noun}", field=field)
    return row
