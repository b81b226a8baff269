"""``opswatch user``: people and their personal tokens."""

from __future__ import annotations

import argparse
from typing import Any

from opswatch.audit.actor import Actor
from opswatch.cli.output import emit, json_flag, run_with_database
from opswatch.config import Settings
from opswatch.tenants import tenants, users


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
