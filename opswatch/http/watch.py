"""Knowing, from around an ASGI app, whether and how it has begun to answer."""

from __future__ import annotations

from starlette.types import Message, Send


class ResponseWatch:
    """Passes messages on to ``send``, noting the status once the answer has begun:
    a middleware may still answer for an app that failed before that, never after."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status: int | None = None

    @property
    def started(self) -> bool:
        return self.status is not None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
        await self._send(message)
