"""DataLoaders, built per request (and per subscription event), scoped to one tenant.

A nested field asks its loader; all asks of one tick become one query, so a
list of 100 alerts with their services costs one extra query, not 100.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TypeVar

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from opswatch.models import Incident, Service, Tenant, User

Row = TypeVar("Row", bound=Model)


def _by_id(model: type[Row], tenant_id: uuid.UUID | None) -> DataLoader[uuid.UUID, Row | None]:
    async def load(ids: Sequence[uuid.UUID]) -> list[Row | None]:
        query = model.filter(id__in=list(ids))
        if tenant_id is not None:
            query = query.filter(tenant_id=tenant_id)
        rows = {row.pk: row for row in await query}
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)


class Loaders:
    def __init__(self, tenant_id: uuid.UUID | None) -> None:
        self.tenant_id = tenant_id
        self.user = _by_id(User, tenant_id)
        self.service = _by_id(Service, tenant_id)
        self.incident = _by_id(Incident, tenant_id)
        self.tenant = _tenant_loader(tenant_id)


def _tenant_loader(tenant_id: uuid.UUID | None) -> DataLoader[uuid.UUID, Tenant | None]:
    async def load(ids: Sequence[uuid.UUID]) -> list[Tenant | None]:
        # A caller may only ever load its own tenant.
        wanted = [i for i in ids if i == tenant_id]
        rows = {row.id: row for row in await Tenant.filter(id__in=wanted)}
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)
