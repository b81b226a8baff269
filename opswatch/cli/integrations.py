"""``opswatch tenant configure-telephony|configure-slack``: a tenant's providers."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from opswatch.audit.actor import Actor
from opswatch.cli.output import CommandError, emit, json_flag, run_with_database
from opswatch.config import Settings
from opswatch.tenants import tenants


def add_commands(tenant: Any) -> None:
    """Adds the provider actions to the ``tenant`` command's sub-parsers."""
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
    json_flag(phone)
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
    json_flag(slack)
    slack.set_defaults(handler=tenant_configure_slack)


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
