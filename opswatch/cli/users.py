"""``opswatch user``: people and their personal tokens."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable
from typing import Any, TypeVar

from opswatch.audit.actor import Actor
from opswatch.cli.output import emit, json_flag, run_with_database
from opswatch.config import Settings
from opswatch.errors import OpsWatchError
from opswatch.models import Tenant, User, UserToken
from opswatch.tenants import tenants, user_lifecycle, user_tokens, users

Result = TypeVar("Result")
ROLES = ["admin", "responder", "viewer"]


def add_commands(commands: Any) -> None:
    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    user_create = user.add_parser("create", help="create a user and a personal token")
    user_create.add_argument("--tenant", required=True, metavar="SLUG")
    user_create.add_argument("--email", required=True)
    user_create.add_argument("--name", required=True)
    user_create.add_argument(
        "--role", choices=["admin", "responder", "viewer"], default="responder"
    )
    user_create.add_argument("--phone", metavar="E164")
    user_create.add_argument("--timezone", metavar="TZ")
    user_create.add_argument("--slack-user-id", metavar="U")
    json_flag(user_create)
    user_create.set_defaults(handler=user_create_command)

    listing = user.add_parser("list", help="list a tenant's users")
    _tenant(listing)
    json_flag(listing)
    listing.set_defaults(handler=user_list_command)

    update = user.add_parser("update", help="change only the details given (--phone '' clears)")
    _person(update)
    update.add_argument("--name")
    update.add_argument("--email", dest="new_email", metavar="EMAIL")
    update.add_argument("--phone", metavar="E164")
    update.add_argument("--timezone", metavar="TZ")
    update.add_argument("--role", choices=ROLES)
    update.add_argument("--slack-user-id", metavar="U")
    json_flag(update)
    update.set_defaults(handler=user_update_command)

    for action, active, help_text in (
        ("deactivate", False, "take a user out of every rotation; their tokens stop working"),
        ("reactivate", True, "let a deactivated user back in"),
    ):
        switch = user.add_parser(action, help=help_text)
        _person(switch)
        json_flag(switch)
        switch.set_defaults(handler=user_set_active_command, active=active)

    token = user.add_parser("token", help="manage personal tokens").add_subparsers(
        dest="token_action", required=True, metavar="ACTION"
    )
    token_create = token.add_parser("create", help="issue a token (shown once)")
    _person(token_create)
    token_create.add_argument("--name", required=True)
    json_flag(token_create)
    token_create.set_defaults(handler=token_create_command)
    token_list = token.add_parser("list", help="list a user's tokens")
    _person(token_list)
    json_flag(token_list)
    token_list.set_defaults(handler=token_list_command)
    token_revoke = token.add_parser("revoke", help="revoke a token by prefix or id")
    _tenant(token_revoke)
    token_revoke.add_argument("prefix", metavar="PREFIX")
    json_flag(token_revoke)
    token_revoke.set_defaults(handler=token_revoke_command)


def _tenant(parser: argparse.ArgumentParser) -> None:
    # --tenant, as ``user create`` and ``apikey`` spell it: one way across commands.
    parser.add_argument("--tenant", dest="slug", required=True, metavar="SLUG")


def _person(parser: argparse.ArgumentParser) -> None:
    _tenant(parser)
    parser.add_argument("email", metavar="EMAIL")


async def _naming_email(work: Awaitable[Result]) -> Result:
    """Refusals about "the user" (GraphQL names its id) name the EMAIL argument here."""
    try:
        return await work
    except OpsWatchError as error:
        if error.field in ("id", "userId"):
            raise type(error)(error.message, field="EMAIL") from None
        raise


async def _find(args: argparse.Namespace) -> tuple[Tenant, User]:
    tenant = await tenants.get_tenant_by_slug(args.slug)
    return tenant, await users.get_user_by_email(tenant, args.email, "EMAIL")


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "name": user.name,
        "email": user.email,
        "role": user.role.value,
        "phone": user.phone,
        "timezone": user.timezone,
        "slack_user_id": user.slack_user_id,
        "active": user.active,
        "created_at": user.created_at.isoformat(),
    }


def user_line(user: User) -> str:
    state = "active" if user.active else "inactive"
    return f"{user.email:<32} {user.name:<24} {user.role.value:<9} {state:<8} {user.timezone}"


def token_json(token: UserToken) -> dict[str, Any]:
    return {
        "id": str(token.id),
        "name": token.name,
        "prefix": token.prefix,
        "user_id": str(token.user_id),  # type: ignore[attr-defined]
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def user_list_command(args: argparse.Namespace) -> int:
    async def work(settings: Settings) -> list[User]:
        tenant = await tenants.get_tenant_by_slug(args.slug)
        return await User.filter(tenant=tenant).order_by("email").limit(10_000)

    found = run_with_database(work)
    text = "\n".join(user_line(u) for u in found) or "no users"
    return emit({"users": [user_json(u) for u in found]}, as_json=args.json, text=text)


def user_update_command(args: argparse.Namespace) -> int:
    given = {
        "name": args.name,
        "email": args.new_email,
        "phone": args.phone,
        "timezone": args.timezone,
        "role": args.role,
        "slack_user_id": args.slack_user_id,
    }
    # Only the flags given change; an empty --phone or --slack-user-id clears it.
    changes = {column: value for column, value in given.items() if value is not None}

    async def work(settings: Settings) -> User:
        tenant, user = await _find(args)
        return await _naming_email(
            users.update_user(
                tenant=tenant, user=user, changes=changes, actor=Actor.cli(), editor=None
            )
        )

    user = run_with_database(work)
    return emit(user_json(user), as_json=args.json, text=f"updated {user_line(user)}")


def user_set_active_command(args: argparse.Namespace) -> int:
    async def work(settings: Settings) -> User:
        tenant, user = await _find(args)
        return await _naming_email(
            user_lifecycle.set_active(
                tenant=tenant, user=user, active=args.active, actor=Actor.cli(), editor=None
            )
        )

    user = run_with_database(work)
    done = "reactivated" if user.active else "deactivated"
    return emit(user_json(user), as_json=args.json, text=f"{done} {user.email}")


def token_create_command(args: argparse.Namespace) -> int:
    async def work(settings: Settings) -> users.IssuedToken:
        _, user = await _find(args)
        return await _naming_email(
            user_tokens.create_user_token(
                owner=user, name=args.name, actor=Actor.cli(), editor=None
            )
        )

    issued = run_with_database(work)
    result = {**token_json(issued.token), "token": issued.clear}
    text = f"issued token {issued.token.prefix} for {args.email}. Token (shown only now):\n"
    return emit(result, as_json=args.json, text=text + issued.clear)


def token_list_command(args: argparse.Namespace) -> int:
    async def work(settings: Settings) -> list[UserToken]:
        _, user = await _find(args)
        return await user_tokens.list_user_tokens(owner=user, editor=None)

    found = run_with_database(work)
    lines = [
        f"{t.prefix}  {t.name:<20} {'revoked' if t.revoked_at else 'active':<8} "
        f"last used {t.last_used_at.isoformat() if t.last_used_at else 'never'}"
        for t in found
    ]
    return emit(
        {"tokens": [token_json(t) for t in found]},
        as_json=args.json,
        text="\n".join(lines) or "no tokens",
    )


def token_revoke_command(args: argparse.Namespace) -> int:
    async def work(settings: Settings) -> UserToken:
        tenant = await tenants.get_tenant_by_slug(args.slug)
        token = await user_tokens.find_user_token(tenant, args.prefix, "PREFIX")
        return await user_tokens.revoke_user_token(token=token, actor=Actor.cli(), editor=None)

    token = run_with_database(work)
    return emit(token_json(token), as_json=args.json, text=f"revoked token {token.prefix}")


def user_create_command(args: argparse.Namespace) -> int:
    async def work(settings: Settings) -> Any:
        tenant = await tenants.get_tenant_by_slug(args.tenant)
        return await users.create_user(
            tenant=tenant,
            name=args.name,
            email=args.email,
            role=users.parse_role(args.role),
            phone=args.phone,
            timezone=args.timezone,
            slack_user_id=args.slack_user_id,
            actor=Actor.cli(),
        )

    created = run_with_database(work)
    result = {"id": str(created.user.id), "token": created.token}
    text = f"created user {created.user.email}. Token (shown only now):\n{created.token}"
    return emit(result, as_json=args.json, text=text)
