"""``opswatch tenant``: create tenants (their telephony and Slack: ``cli.integrations``)."""

from __future__ import annotations

import argparse
from typing import Any

from opswatch.audit.actor import Actor
from opswatch.cli import integrations
from opswatch.cli.output import emit, json_flag, run_with_database
from opswatch.config import Settings
from opswatch.tenants import tenants


def add_commands(commands: Any) -> None:
    tenant = commands.add_parser("tenant", help="manage tenants").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = tenant.add_parser("create", help="create a tenant")
    create.add_argument("name")
    create.add_argument("--slug")
    json_flag(create)
    create.set_defaults(handler=tenant_create)

    integrations.add_commands(tenant)


def tenant_create(args: argparse.Namespace) -> int:
    async def work(settings: Settings) -> Any:
        return await tenants.create_tenant(name=args.name, slug=args.slug, actor=Actor.cli())

    tenant = run_with_database(work)
    result = {"id": str(tenant.id), "slug": tenant.slug, "name": tenant.name}
    return emit(result, as_json=args.json, text=f"created tenant {tenant.slug} ({tenant.id})")
