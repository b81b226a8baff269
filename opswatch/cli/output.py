"""Running a command's coroutine with the database, and printing its result."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from tortoise.exceptions import OperationalError

from opswatch import db, runtime
from opswatch.config import Settings, load_settings
from opswatch.errors import OpsWatchError

# CLI flag for each field name our validators report.
FLAGS = {
    "slug": "--slug",
    "email": "--email",
    "name": "--name",
    "role": "--role",
    "phone": "--phone",
    "timezone": "--timezone",
    "slackUserId": "--slack-user-id",
    "tenant": "--tenant",
    "key": "KEY",
    "field_map": "--field-map",
    "fieldMap": "--field-map",
    "rate_limit_per_minute": "--rate-limit",
    "rateLimitPerMinute": "--rate-limit",
    "severityMapping": "--severity-map",
    "from": "--from",
    "provider": "--provider",
    "accountSid": "--account-sid",
    "authToken": "--auth-token",
    "apiKey": "--api-key",
    "apiSecret": "--api-secret",
    "applicationId": "--application-id",
    "privateKey": "--private-key-file",
    "signatureSecret": "--signature-secret",
    "teamId": "--team-id",
    "botToken": "--bot-token",
    "alertChannel": "--alert-channel",
    "botUserId": "--bot-user-id",
}


class CommandError(Exception):
    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@contextlib.asynccontextmanager
async def connected(settings: Settings) -> AsyncIterator[runtime.Runtime]:
    """The database connected and a runtime installed (so jobs can be enqueued)."""
    try:
        await db.connect(settings.database_url)
    except db.DatabaseUnavailable as error:
        raise CommandError(str(error), exit_code=1) from None
    current = runtime.build(settings)
    runtime.install(current)
    await current.queue.start()
    try:
        yield current
    finally:
        await current.queue.stop()
        await db.disconnect()


# Commands whose tenant is the positional SLUG (``tenant update acme``), not --tenant.
SLUG_ARGUMENT = {"tenant": "SLUG"}


def run_with_database(
    work: Callable[[Settings], Awaitable[Any]], *, flags: dict[str, str] | None = None
) -> Any:
    """Run ``work`` connected; a caller-fixable error becomes a one-line CLI error.
    ``flags`` names fields the command spells its own way (``tenant`` as ``SLUG``)."""
    names = {**FLAGS, **(flags or {})}
    settings = load_settings()

    async def main() -> Any:
        async with connected(settings):
            try:
                return await work(settings)
            except OperationalError as error:
                if not missing_table(error):
                    raise
                where = db.describe(settings.database_url)
                raise CommandError(
                    f"database {where} has no OpsWatch tables yet: run `opswatch db upgrade`"
                ) from None
            except OpsWatchError as error:
                # "fieldMap.titel" is a key of --field-map; the message names the key.
                flag = names.get((error.field or "").split(".")[0], error.field)
                message = f"{flag}: {error.message}" if flag else error.message
                raise CommandError(message) from None

    return asyncio.run(main())


def missing_table(error: BaseException) -> bool:
    """True when the database has not been migrated (SQLite and PostgreSQL say so
    differently; asyncpg's error carries SQLSTATE 42P01)."""
    cause = error.__cause__ or error
    return "no such table" in str(cause) or getattr(cause, "sqlstate", None) == "42P01"


def emit(result: dict[str, Any], *, as_json: bool, text: str) -> int:
    print(json.dumps(result, default=str) if as_json else text)
    return 0


def json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def json_object(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON: {error.msg}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value
