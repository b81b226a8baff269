"""Who is calling: resolved from an API key or a personal token, scoped to one tenant."""

from __future__ import annotations

from dataclasses import dataclass

from opswatch.audit.actor import Actor
from opswatch.errors import Forbidden, Unauthenticated
from opswatch.models import ActorType, ApiKey, Role, Tenant, User
from opswatch.tenants.apikeys import authenticate_api_key
from opswatch.tenants.usage import note_used
from opswatch.tenants.users import authenticate_token


@dataclass(frozen=True)
class Principal:
    tenant: Tenant
    role: Role
    user: User | None = None
    api_key: ApiKey | None = None

    def actor(self, source: str) -> Actor:
        if self.user is not None:
            return Actor(ActorType.USER, str(self.user.id), self.user.name, source)
        assert self.api_key is not None
        return Actor(ActorType.API_KEY, str(self.api_key.id), self.api_key.name, source)

    def require(self, role: Role) -> None:
        if not self.role.allows(role):
            raise Forbidden(f"this needs the {role.value} role")


# Said when a credential arrives where it does not belong: the prefix tells which it is.
USER_TOKEN_ON_WEBHOOK = "webhooks take an API key (owk_…); this is a user token"  # noqa: S105
API_KEY_ON_GRAPHQL = "GraphQL takes a user token (owu_…); this is a webhook API key"


async def principal_from_credential(
    credential: str, *, allow_api_key: bool, allow_user_token: bool = True
) -> Principal:
    """Resolve a presented API key or user token; anything unknown is one 401 answer.

    GraphQL takes user tokens only, webhooks API keys only; the read-only REST
    endpoints (on-call) take either."""
    if credential.startswith("owu_"):
        if not allow_user_token:
            raise Unauthenticated(USER_TOKEN_ON_WEBHOOK)
        token = await authenticate_token(credential)
        if token is not None:
            await note_used("user_token", token.id)
            return Principal(tenant=token.tenant, role=token.user.role, user=token.user)
    elif credential.startswith("owk_"):
        if not allow_api_key:
            raise Unauthenticated(API_KEY_ON_GRAPHQL)
        api_key = await authenticate_api_key(credential)
        if api_key is not None:
            await note_used("api_key", api_key.id)
            # A monitoring system posts alerts and reads on-call; it is never an admin.
            return Principal(tenant=api_key.tenant, role=Role.RESPONDER, api_key=api_key)
    raise Unauthenticated("unknown, revoked or malformed credential")


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
