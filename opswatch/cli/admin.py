"""Administrative commands: tenants, API keys, users, the demo seed, schema export."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from opswatch.audit.actor import Actor
from opswatch.cli.output import CommandError, emit, run_with_database
from opswatch.config import Settings
from opswatch.tenants import apikeys, tenants, users


def add_commands(commands: Any) -> None:
    tenant = commands.add_parser("tenant", help="manage tenants").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = tenant.add_parser("create", help="create a tenant")
    create.add_argument("name")
    create.add_argument("--slug")
    _json_flag(create)
    create.set_defaults(handler=tenant_create)

    phone = tenant.add_parser(
        "configure-telephony", help="set the tenant's Twilio or Vonage account (stored encrypted)"
    )
    phone.add_argument("slug", metavar="SLUG")
    phone.add_argument("--provider", required=True, choices=["twilio", "vonage"])
    phone.add_argument("--from", dest="from_number", required=True, metavar="E164")
    phone.add_argument("--account-sid", help="Twilio")
    phone.add_argument("--auth-token", help="Twilio")
    phone.add_argument("--api-key", help="Vonage")
    phone.add_argument("--api-secret", help="Vonage")
    phone.add_argument("--application-id", help="Vonage")
    phone.add_argument("--private-key-file", type=Path, help="Vonage: the application's key (PEM)")
    phone.add_argument("--signature-secret", help="Vonage: signs its webhooks")
    _json_flag(phone)
    phone.set_defaults(handler=tenant_configure_telephony)

    slack = tenant.add_parser(
        "configure-slack",
        help="connect the tenant to a Slack workspace (single-workspace set-up; token encrypted)",
    )
    slack.add_argument("slug", metavar="SLUG")
    slack.add_argument("--team-id", required=True, metavar="T", help="the workspace's team id")
    slack.add_argument("--bot-token", required=True, metavar="XOXB", help="the app's bot token")
    slack.add_argument("--alert-channel", metavar="C", help="channel id alerts are posted to")
    slack.add_argument("--bot-user-id", metavar="U", help="the bot's user id (ignores its posts)")
    _json_flag(slack)
    slack.set_defaults(handler=tenant_configure_slack)

    apikey = commands.add_parser("apikey", help="manage webhook API keys").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    key_create = apikey.add_parser("create", help="create a key (shown once)")
    key_create.add_argument("--tenant", required=True, metavar="SLUG")
    key_create.add_argument("--name", default="default")
    key_create.add_argument("--field-map", type=_json_object, metavar="JSON")
    key_create.add_argument("--rate-limit", type=int, metavar="PER_MINUTE")
    _json_flag(key_create)
    key_create.set_defaults(handler=apikey_create)
    key_update = apikey.add_parser("update", help="change a key's field map or rate limit")
    key_update.add_argument("--tenant", required=True, metavar="SLUG")
    key_update.add_argument("key", metavar="KEY", help="id or prefix")
    key_update.add_argument("--field-map", type=_json_object, metavar="JSON")
    limit = key_update.add_mutually_exclusive_group()
    limit.add_argument("--rate-limit", type=int, metavar="PER_MINUTE")
    limit.add_argument("--no-rate-limit", action="store_true")
    _json_flag(key_update)
    key_update.set_defaults(handler=apikey_update)
    key_list = apikey.add_parser("list", help="list keys")
    key_list.add_argument("--tenant", required=True, metavar="SLUG")
    _json_flag(key_list)
    key_list.set_defaults(handler=apikey_list)
    key_revoke = apikey.add_parser("revoke", help="revoke a key by id or prefix")
    key_revoke.add_argument("--tenant", required=True, metavar="SLUG")
    key_revoke.add_argument("key", metavar="KEY")
    _json_flag(key_revoke)
    key_revoke.set_defaults(handler=apikey_revoke)

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
    _json_flag(user_create)
    user_create.set_defaults(handler=user_create_command)

    demo = commands.add_parser("demo", help="seed the demo tenant (idempotent)")
    _json_flag(demo)
    demo.set_defaults(handler=demo_command)

    schema = commands.add_parser("schema", help="GraphQL schema").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    export = schema.add_parser("export", help="print or write the SDL")
    export.add_argument("--output", type=Path)
    export.set_defaults(handler=schema_export)


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _json_object(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON: {error.msg}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def tenant_create(args: argparse.Namespace) -> int:
    async def work(settings: Settings) -> Any:
        return await tenants.create_tenant(name=args.name, slug=args.slug, actor=Actor.cli())

    tenant = run_with_database(work)
    result = {"id": str(tenant.id), "slug": tenant.slug, "name": tenant.name}
    return emit(result, as_json=args.json, text=f"created tenant {tenant.slug} ({tenant.id})")


def tenant_configure_telephony(args: argparse.Namespace) -> int:
    from opswatch.tenants.telephony import TelephonyConfig, configure_telephony

    private_key = None
    if args.private_key_file is not None:
        try:
            private_key = args.private_key_file.read_text()
        except OSError as error:
            raise CommandError(f"--private-key-file: {error.strerror}") from None
    given = {
        "twilio_account_sid": args.account_sid,
        "twilio_auth_token": args.auth_token,
        "vonage_api_key": args.api_key,
        "vonage_api_secret": args.api_secret,
        "vonage_application_id": args.application_id,
        "vonage_private_key": private_key,
        "vonage_signature_secret": args.signature_secret,
    }

    async def work(settings: Settings) -> Any:
        from opswatch import runtime

        tenant = await tenants.get_tenant_by_slug(args.slug)
        return await configure_telephony(
            tenant=tenant,
            box=runtime.current().secret_box,
            config=TelephonyConfig(
                provider=args.provider,
                from_number=args.from_number,
                credentials={k: v for k, v in given.items() if v},
            ),
            actor=Actor.cli(),
        )

    tenant = run_with_database(work)
    result = {"slug": tenant.slug, "provider": args.provider, "from": tenant.telephony_number}
    text = (
        f"{tenant.slug} now calls and texts through {args.provider} from {tenant.telephony_number}"
    )
    return emit(result, as_json=args.json, text=text)


def tenant_configure_slack(args: argparse.Namespace) -> int:
    from opswatch.slack.workspace import SlackConfig, configure_slack

    async def work(settings: Settings) -> Any:
        from opswatch import runtime

        tenant = await tenants.get_tenant_by_slug(args.slug)
        return await configure_slack(
            tenant=tenant,
            box=runtime.current().secret_box,
            config=SlackConfig(
                team_id=args.team_id,
                bot_token=args.bot_token,
                alert_channel=args.alert_channel,
                bot_user_id=args.bot_user_id,
            ),
            actor=Actor.cli(),
        )

    tenant = run_with_database(work)
    slack = tenant.settings["slack"]
    result = {
        "slug": tenant.slug,
        "teamId": slack["team_id"],
        "alertChannel": slack["alert_channel"],
    }
    channel = slack["alert_channel"] or "no alert channel yet"
    text = f"{tenant.slug} now posts to Slack workspace {slack['team_id']} ({channel})"
    return emit(result, as_json=args.json, text=text)


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
    return emit(result, as_json=args.json, text=banner(credentials, base_url))


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
