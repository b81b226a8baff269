"""One drain of a shared backlog at a time, per process.

A drain job takes everything pending, batch after batch, until nothing is left.
Asked for again while one already runs in this process, a second drain would
only compete with the first for the same rows, in smaller batches and more
transactions. So the request marks the running drain to go round once more and
returns at once: whatever was committed before the request is then claimed by
that next round, which starts after the request arrived.
"""

from __future__ import annotations

import asyncio


class Drain:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False
        self._again = False

    def start(self) -> bool:
        """True: the caller drains (and must call finish); False: the running drain
        will go round again for it."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # state left by a closed loop means nothing here
            self._loop, self._running, self._again = loop, False, False
        if self._running:
            self._again = True
            return False
        self._running = True
        return True

    def next_round(self) -> None:
        """Call as each round begins: requests from now on need another round."""
        self._again = False

    @property
    def asked_again(self) -> bool:
        return self._again

    def finish(self) -> None:
        self._running = False
