"""Database set-up: the Tortoise configuration, start-up and migrations."""

from __future__ import annotations

import os
from typing import Any

from tortoise import Tortoise
from tortoise.migrations.api import migrate

MODELS_APP = "models"


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": database_url},
        "apps": {
            MODELS_APP: {
                "models": ["opswatch.models"],
                "default_connection": "default",
                "migrations": "opswatch.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# For `python -m tortoise -c opswatch.db.TORTOISE_ORM makemigrations`.
TORTOISE_ORM = tortoise_config(os.environ.get("OPSWATCH_DATABASE_URL", "sqlite://:memory:"))


async def upgrade(database_url: str) -> None:
    """Apply every pending migration; safe to run again and from several processes in turn."""
    try:
        await migrate(config=tortoise_config(database_url))
    finally:
        await Tortoise.close_connections()


async def connect(database_url: str) -> None:
    await Tortoise.init(config=tortoise_config(database_url))


async def disconnect() -> None:
    await Tortoise.close_connections()
