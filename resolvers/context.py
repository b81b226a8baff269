"""The typed per-request (per WebSocket connection) GraphQL context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from opswatch.errors import Unauthenticated
from opswatch.models import Role
from opswatch.tenants.principal import Principal
from resolvers.loaders import Loaders


@dataclass
class Context:
    # None once a WebSocket connection has ended (see ``release``).
    request: Request | WebSocket | None
    response: Response | WebSocket | None
    principal: Principal | None
    loaders: Loaders
    connection_params: dict[str, Any] = field(default_factory=dict)

    def release(self) -> None:
        """The connection has ended: let go of it and of what it loaded. graphql-core's
        executors hold the context in a reference cycle, so whatever the context holds
        would otherwise wait for the rarely run full garbage collection."""
        self.request = None
        self.response = None
        self.principal = None
        self.loaders = Loaders(None)
        self.connection_params = {}

    def viewer(self, role: Role = Role.VIEWER) -> Principal:
        """The authenticated user, checked for ``role``; API keys do not speak GraphQL."""
        if self.principal is None or self.principal.user is None:
            raise Unauthenticated("send Authorization: Bearer <user token>")
        self.principal.require(role)
        return self.principal


Info = StrawberryInfo[Context, None]
