"""Logging enqueue failures without flooding the log.

While Redis is down every enqueue fails, hundreds a second under load: one
traceback each buried everything else (729 in 6 s). A failed enqueue is one
WARNING line, at most one per job name every ``EVERY_SECONDS``, saying how many
failures of that job it stands for.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from opswatch.queue import enqueue

log = logging.getLogger(__name__)

EVERY_SECONDS = 10.0


class EnqueueFailures:
    def __init__(self, every_seconds: float = EVERY_SECONDS) -> None:
        self.every_seconds = every_seconds
        self._last_logged: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def note(self, name: str, error: BaseException, consequence: str) -> None:
        now = time.monotonic()
        last = self._last_logged.get(name)
        if last is not None and now - last < self.every_seconds:
            self._suppressed[name] = self._suppressed.get(name, 0) + 1
            return
        suppressed = self._suppressed.pop(name, 0)
        self._last_logged[name] = now
        more = f" (and {suppressed} more since the last report)" if suppressed else ""
        log.warning(
            "could not enqueue %s: %s: %s; %s%s",
            name,
            type(error).__name__,
            error,
            consequence,
            more,
        )


_failures = EnqueueFailures()


def note_enqueue_failure(name: str, error: BaseException, consequence: str) -> None:
    _failures.note(name, error, consequence)


async def enqueue_or_warn(name: str, /, *, consequence: str, **kwargs: Any) -> bool:
    """Enqueue, or log the failure (rate-limited) and return False. For callers
    whose work is found again another way when the queue is down."""
    try:
        await enqueue(name, **kwargs)
    except Exception as error:
        note_enqueue_failure(name, error, consequence)
        return False
    return True
