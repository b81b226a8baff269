"""``opswatch tenant``: create, list and update tenants (their telephony and Slack:
``cli.integrations``)."""

from __future__ import annotations

import argparse
from typing import Any

from opswatch.audit.actor import Actor
from opswatch.cli import integrations
from opswatch.cli.output import (
    SLUG_ARGUMENT,
    CommandError,
    emit,
    json_flag,
    run_with_database,
)
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

    listing = tenant.add_parser("list", help="list tenants with their time zone and users")
    json_flag(listing)
    listing.set_defaults(handler=tenant_list)

    update = tenant.add_parser(
        "update", help="change a tenant's name, time zone or severity mapping"
    )
    update.add_argument("slug", metavar="SLUG")
    update.add_argument("--name")
    update.add_argument("--timezone", help="the default IANA time zone, like Europe/Berlin")
    words = update.add_mutually_exclusive_group()
    words.add_argument(
        "--severity-map",
        metavar="WORD=SEVERITY",
        nargs="+",
        action="extend",
        type=mapped_word,
        help="replace the severity mapping with these words (severity: critical, high, "
        "warning, low or info)",
    )
    words.add_argument("--clear-severity-map", action="store_true", help="remove every mapped word")
    json_flag(update)
    update.set_defaults(handler=tenant_update)

    integrations.add_commands(tenant)


def tenant_create(args: argparse.Namespace) -> int:
    async def work(settings: Settings) -> Any:
        return await tenants.create_tenant(name=args.name, slug=args.slug, actor=Actor.cli())

    tenant = run_with_database(work, flags=SLUG_ARGUMENT)
    result = {"id": str(tenant.id), "slug": tenant.slug, "name": tenant.name}
    return emit(result, as_json=args.json, text=f"created tenant {tenant.slug} ({tenant.id})")


def mapped_word(raw: str) -> tuple[str, str]:
    word, equals, severity = raw.partition("=")
    if not equals or not word.strip():
        raise argparse.ArgumentTypeError(f"{raw!r} is not WORD=SEVERITY")
    return word, severity


def tenant_list(args: argparse.Namespace) -> int:
    async def work(settings: Settings) -> Any:
        return await tenants.list_tenants()

    rows = [
        {
            "slug": tenant.slug,
            "name": tenant.name,
            "timezone": tenants.timezone_of(tenant),
            "users": users,
        }
        for tenant, users in run_with_database(work, flags=SLUG_ARGUMENT)
    ]
    lines = [
        f"{row['slug']:<24} {row['timezone']:<20} {row['users']:>5} users  {row['name']}"
        for row in rows
    ]
    return emit({"tenants": rows}, as_json=args.json, text="\n".join(lines) or "no tenants")


def tenant_update(args: argparse.Namespace) -> int:
    changes: dict[str, Any] = {}
    if args.name is not None:
        changes["name"] = args.name
    if args.timezone is not None:
        changes["timezone"] = args.timezone
    if args.severity_map is not None:
        changes["severity_mapping"] = dict(args.severity_map)
    if args.clear_severity_map:
        changes["severity_mapping"] = None
    if not changes:
        raise CommandError("nothing to change: give --name, --timezone or a severity map option")

    async def work(settings: Settings) -> Any:
        tenant = await tenants.get_tenant_by_slug(args.slug)
        return await tenants.update_tenant(tenant=tenant, changes=changes, actor=Actor.cli())

    tenant = run_with_database(work, flags=SLUG_ARGUMENT)
    result = {
        "slug": tenant.slug,
        "name": tenant.name,
        "timezone": tenants.timezone_of(tenant),
        "severity_mapping": tenants.severity_mapping_of(tenant),
    }
    return emit(result, as_json=args.json, text=f"updated tenant {tenant.slug}")
