"""Running a command's coroutine with the database, and printing its result."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

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
    "rate_limit_per_minute": "--rate-limit",
}


class CommandError(Exception):
    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def run_with_database(work: Callable[[Settings], Awaitable[Any]]) -> Any:
    """Connect, install a runtime (so jobs can be enqueued), run ``work``, disconnect."""
    settings = load_settings()

    async def main() -> Any:
        try:
            await db.connect(settings.database_url)
        except db.DatabaseUnavailable as error:
            raise CommandError(str(error), exit_code=1) from None
        current = runtime.build(settings)
        runtime.install(current)
        await current.queue.start()
        try:
            return await work(settings)
        except OpsWatchError as error:
            flag = FLAGS.get(error.field or "", error.field)
            raise CommandError(f"{flag}: {error.message}" if flag else error.message) from None
        finally:
            await current.queue.stop()
            await db.disconnect()

    return asyncio.run(main())


def emit(result: dict[str, Any], *, as_json: bool, text: str) -> int:
    print(json.dumps(result, default=str) if as_json else text)
    return 0
