"""Columns every table shares: a UUID key and creation time."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Entity(Model):
    id = fields.UUIDField(primary_key=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        abstract = True
