"""Database set-up: the Tortoise configuration, start-up, migrations and probes."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate

MODELS_APP = "models"


class DatabaseUnavailable(RuntimeError):
    """The database did not answer; the message says where we tried."""


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": _connection(database_url)},
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


def _connection(database_url: str) -> dict[str, Any]:
    connection: dict[str, Any] = expand_db_url(database_url)
    if connection["engine"] == "tortoise.backends.asyncpg":
        credentials = connection["credentials"]
        settings = dict(credentials.get("server_settings") or {})
        # Plan every statement for the tables as they are now. asyncpg prepares
        # statements, and PostgreSQL keeps a generic plan once it looked cheap: a plan
        # made while the alert tables were nearly empty (a fresh install, the first
        # minute of a storm) scanned them whole, and was kept at every batch while
        # they grew, until the next ANALYZE. Planning costs tens of microseconds.
        settings.setdefault("plan_cache_mode", "force_custom_plan")
        credentials["server_settings"] = settings
        credentials["reset"] = _keep_session
    return connection


async def _keep_session(connection: Any) -> None:
    """What a connection released to the pool runs besides asyncpg's own rollback of
    an open transaction: nothing. asyncpg's default (unlock advisory locks, close
    cursors, UNLISTEN, RESET ALL) costs a round trip per release, and a processing
    batch releases connections several times. OpsWatch takes only
    transaction-scoped advisory locks, holds no cursors beyond a transaction, never
    LISTENs and never SETs session state, so there is nothing to undo."""


# For `python -m tortoise -c opswatch.db.TORTOISE_ORM makemigrations`.
TORTOISE_ORM = tortoise_config(os.environ.get("OPSWATCH_DATABASE_URL", "sqlite://:memory:"))


def describe(database_url: str) -> str:
    """The URL without its password, for messages."""
    scheme, _, rest = database_url.partition("://")
    if "@" in rest:
        rest = rest.split("@", 1)[1]
    return f"{scheme}://{rest}"


async def upgrade(database_url: str) -> list[str]:
    """Apply every pending migration; safe to run again. Returns the names applied."""
    applied: list[str] = []

    def note(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            applied.append(name)

    try:
        await migrate(config=tortoise_config(database_url), progress=note)
    except (TimeoutError, OSError) as error:
        raise DatabaseUnavailable(f"cannot reach {describe(database_url)}: {error}") from error
    finally:
        await Tortoise.close_connections()
    return applied


async def connect(database_url: str) -> None:
    try:
        # The lifespan runs in its own task; requests must find the same connections.
        await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)
        await ping(timeout=10)
    except (TimeoutError, OSError) as error:
        await Tortoise.close_connections()
        raise DatabaseUnavailable(f"cannot reach {describe(database_url)}: {error}") from error


async def ping(timeout: float = 2.0) -> None:
    await asyncio.wait_for(connections.get("default").execute_query("SELECT 1"), timeout)


async def disconnect() -> None:
    await Tortoise.close_connections()
