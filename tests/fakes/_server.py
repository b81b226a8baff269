"""What both fakes share: a uvicorn server inside the running event loop, serving a
Starlette app on 127.0.0.1 on a port the OS picks, and the failure and delay
injection queues their endpoints consult before doing anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

STARTUP_TIMEOUT_SECONDS = 10.0
SHUTDOWN_GRACE_SECONDS = 0.5


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves SIGINT and SIGTERM to pytest.

    ``Server.serve`` swaps in its own signal handlers while it runs and restores the
    previous ones when it ends; with several servers in one loop stopping in any
    order, that would leave a stale handler behind (and Ctrl-C would stop a fake
    instead of the test run).
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class FakeServer:
    """Base class: subclasses provide the routes (and TLS files, if any)."""

    scheme = "http"

    def __init__(self) -> None:
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self._port: int | None = None
        self._failures: deque[tuple[int, dict[str, Any]]] = deque()
        self._delays: deque[float] = deque()
        self._closing = asyncio.Event()

    # Subclass hooks

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def tls_files(self) -> tuple[str, str] | None:
        """(key PEM path, certificate PEM path) to serve HTTPS; None for plain HTTP."""
        return None

    # Addresses

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return self._port

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``SCHEME://127.0.0.1:PORT``, without a trailing slash."""
        return f"{self.scheme}://{self.host}"

    # Lifecycle

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        # A socket bound here, handed to uvicorn: no window in which another process
        # could take a port picked in advance.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        self._socket = listener
        self._port = int(listener.getsockname()[1])
        self._closing = asyncio.Event()
        key_file, cert_file = self.tls_files() or (None, None)
        config = uvicorn.Config(
            Starlette(routes=self.routes()),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ssl_keyfile=key_file,
            ssl_certfile=cert_file,
        )
        self._server = _QuietServer(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[listener]))
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT_SECONDS):
                while not self._server.started:
                    if self._task.done():
                        self._task.result()
                        raise RuntimeError(f"{type(self).__name__} stopped while starting")
                    await asyncio.sleep(0.01)
        except BaseException:
            # The startup error is the one to see, not what stopping then raises again.
            with contextlib.suppress(BaseException):
                await self.stop()
            raise

    async def stop(self) -> None:
        """Stops serving; requests held by ``delay_next`` are answered at once."""
        self._closing.set()
        try:
            if self._server is not None and self._task is not None:
                self._server.should_exit = True
                done, _ = await asyncio.wait({self._task}, timeout=SHUTDOWN_GRACE_SECONDS)
                if not done:
                    # uvicorn closes idle keep-alive connections politely; over TLS that
                    # waits for the client's close_notify, which a pooled client connection
                    # never sends, for asyncio's 30 s SSL shutdown timeout. Cut them off.
                    for connection in list(self._server.server_state.connections):
                        connection.transport.abort()
                await self._task
        finally:
            if self._socket is not None:
                self._socket.close()
            self._server = self._task = self._socket = None
            self._port = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # Injection

    def delay_next(self, seconds: float, times: int = 1) -> None:
        """The next ``times`` requests wait ``seconds`` before they are handled (and are
        then handled as usual, even if the client gave up: like a provider that got the
        request but answered late)."""
        if seconds < 0 or times < 1:
            raise ValueError("seconds must be >= 0 and times >= 1")
        self._delays.extend([seconds] * times)

    def _queue_failure(self, status: int, body: dict[str, Any], times: int) -> None:
        if not 400 <= status <= 599 or times < 1:
            raise ValueError("status must be 4xx or 5xx and times >= 1")
        self._failures.extend([(status, body)] * times)

    async def injected(self) -> JSONResponse | None:
        """Applies a pending delay, then answers a pending failure if there is one."""
        if self._delays:
            seconds = self._delays.popleft()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), seconds)
        if self._failures:
            status, body = self._failures.popleft()
            return JSONResponse(body, status_code=status)
        return None
