"""Administrative commands: API keys, the demo seed, schema export."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from opswatch.audit.actor import Actor
from opswatch.cli.output import CommandError, emit, json_flag, json_object, run_with_database
from opswatch.config import Settings
from opswatch.tenants import apikeys, tenants


def add_commands(commands: Any) -> None:
    apikey = commands.add_parser("apikey", help="manage webhook API keys").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    key_create = apikey.add_parser("create", help="create a key (shown once)")
    key_create.add_argument("--tenant", required=True, metavar="SLUG")
    key_create.add_argument("--name", default="default")
    key_create.add_argument("--field-map", type=json_object, metavar="JSON")
    key_create.add_argument("--rate-limit", type=int, metavar="PER_MINUTE")
    json_flag(key_create)
    key_create.set_defaults(handler=apikey_create)
    key_update = apikey.add_parser("update", help="change a key's field map or rate limit")
    key_update.add_argument("--tenant", required=True, metavar="SLUG")
    key_update.add_argument("key", metavar="KEY", help="id or prefix")
    key_update.add_argument("--field-map", type=json_object, metavar="JSON")
    limit = key_update.add_mutually_exclusive_group()
    limit.add_argument("--rate-limit", type=int, metavar="PER_MINUTE")
    limit.add_argument("--no-rate-limit", action="store_true")
    json_flag(key_update)
    key_update.set_defaults(handler=apikey_update)
    key_list = apikey.add_parser("list", help="list keys")
    key_list.add_argument("--tenant", required=True, metavar="SLUG")
    json_flag(key_list)
    key_list.set_defaults(handler=apikey_list)
    key_revoke = apikey.add_parser("revoke", help="revoke a key by id or prefix")
    key_revoke.add_argument("--tenant", required=True, metavar="SLUG")
    key_revoke.add_argument("key", metavar="KEY")
    json_flag(key_revoke)
    key_revoke.set_defaults(handler=apikey_revoke)

    demo = commands.add_parser("demo", help="seed the demo tenant (idempotent)")
    json_flag(demo)
    demo.set_defaults(handler=demo_command)

    schema = commands.add_parser("schema", help="GraphQL schema").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    export = schema.add_parser("export", help="print or write the SDL")
    export.add_argument("--output", type=Path)
    export.set_defaults(handler=schema_export)


def apikey_create(args: argparse.Namespace) -> int:
    async def work(settings: Settings) -> Any:
        tenant = await tenants.get_tenant_by_slug(args.tenant)
        return await apikeys.create_api_key(
            tenant=tenant,
            name=args.name,
            field_map=args.field_map,
            rate_limit_per_minute=args.rate_limit,
            actor=Actor.cli(),
        )

    created = run_with_database(work)
    result = {"id": str(created.api_key.id), "prefix": created.api_key.prefix, "key": created.clear}
    text = f"API key {created.api_key.prefix} created. It is shown only now:\n{created.clear}"
    return emit(result, as_json=args.json, text=text)


def apikey_update(args: argparse.Namespace) -> int:
    async def work(settings: Settings) -> Any:
        tenant = await tenants.get_tenant_by_slug(args.tenant)
        return await apikeys.update_api_key(
            tenant=tenant,
            key_id=args.key,
            field_map=args.field_map,
            rate_limit_per_minute=args.rate_limit,
            clear_rate_limit=args.no_rate_limit,
            actor=Actor.cli(),
        )

    key = run_with_database(work)
    result = {
        "id": str(key.id),
        "prefix": key.prefix,
        "field_map": key.field_map,
        "rate_limit_per_minute": key.rate_limit_per_minute,
    }
    return emit(result, as_json=args.json, text=f"updated API key {key.prefix}")


def apikey_list(args: argparse.Namespace) -> int:
    async def work(settings: Settings) -> Any:
        return await apikeys.list_api_keys(tenant=await tenants.get_tenant_by_slug(args.tenant))

    rows = run_with_database(work)
    keys = [
        {
            "id": str(k.id),
            "name": k.name,
            "prefix": k.prefix,
            "created_at": k.created_at.isoformat(),
            "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
            "revoked": k.revoked_at is not None,
        }
        for k in rows
    ]
    lines = [
        f"{k['prefix']}  {k['name']:<20} {'revoked' if k['revoked'] else 'active':<8} "
        f"last used {k['last_used_at'] or 'never'}"
        for k in keys
    ]
    return emit({"keys": keys}, as_json=args.json, text="\n".join(lines) or "no keys")


def apikey_revoke(args: argparse.Namespace) -> int:
    async def work(settings: Settings) -> Any:
        tenant = await tenants.get_tenant_by_slug(args.tenant)
        return await apikeys.revoke_api_key(tenant=tenant, key_id=args.key, actor=Actor.cli())

    key = run_with_database(work)
    result = {"id": str(key.id), "prefix": key.prefix, "revoked_at": key.revoked_at.isoformat()}
    return emit(result, as_json=args.json, text=f"revoked API key {key.prefix}")


def demo_command(args: argparse.Namespace) -> int:
    from opswatch.demo import banner, seed_demo

    async def work(settings: Settings) -> Any:
        return await seed_demo(settings.data_dir), settings.public_url

    credentials, base_url = run_with_database(work)
    result = {
        "tenant_id": credentials.tenant_id,
        "token": credentials.user_token,
        "key": credentials.api_key,
    }
    return emit(result, as_json=args.json, text=banner(credentials, base_url, serving=False))


def schema_export(args: argparse.Namespace) -> int:
    from schema.schema import schema

    sdl = schema.as_str() + "\n"
    if args.output is None:
        print(sdl, end="")
        return 0
    try:
        args.output.write_text(sdl)
    except OSError as error:
        raise CommandError(f"--output: {error.strerror}") from None
    return 0
