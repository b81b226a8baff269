"""``opswatch tenant configure-telephony|test-telephony|configure-slack``: a tenant's
providers."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from opswatch.audit.actor import Actor
from opswatch.cli.output import (
    FLAGS,
    SLUG_ARGUMENT,
    CommandError,
    emit,
    json_flag,
    run_with_database,
)
from opswatch.config import Settings
from opswatch.errors import OpsWatchError
from opswatch.tenants import tenants

# The core names fields as GraphQL spells them; these commands' flags for each.
_FLAGS = {**FLAGS, "fromNumber": "--from"}


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

    check = tenant.add_parser(
        "test-telephony",
        help="ask the provider, with the stored credentials, whether it accepts them "
        "(reads the account: no call, no SMS); exits 1 when it does not",
    )
    check.add_argument("slug", metavar="SLUG")
    json_flag(check)
    check.set_defaults(handler=tenant_test_telephony)

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
        with _said_as_flags():
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

    tenant = run_with_database(work, flags=SLUG_ARGUMENT)
    result = {
        "slug": tenant.slug,
        "provider": args.provider,
        "from_number": tenant.telephony_number,
    }
    text = (
        f"{tenant.slug} now calls and texts through {args.provider} from {tenant.telephony_number}"
    )
    return emit(result, as_json=args.json, text=text)


def tenant_configure_slack(args: argparse.Namespace) -> int:
    from opswatch.slack.workspace import SlackConfig, configure_slack

    async def work(settings: Settings) -> Any:
        from opswatch import runtime

        tenant = await tenants.get_tenant_by_slug(args.slug)
        with _said_as_flags():
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

    tenant = run_with_database(work, flags=SLUG_ARGUMENT)
    slack = tenant.settings["slack"]
    result = {
        "slug": tenant.slug,
        "team_id": slack["team_id"],
        "alert_channel": slack["alert_channel"],
        "bot_user_id": slack["bot_user_id"],
    }
    channel = slack["alert_channel"] or "no alert channel yet"
    text = f"{tenant.slug} now posts to Slack workspace {slack['team_id']} ({channel})"
    return emit(result, as_json=args.json, text=text)


def tenant_test_telephony(args: argparse.Namespace) -> int:
    from opswatch.tenants.telephony_check import check_telephony

    async def work(settings: Settings) -> Any:
        from opswatch import runtime

        tenant = await tenants.get_tenant_by_slug(args.slug)
        return await check_telephony(
            tenant=tenant, settings=settings, box=runtime.current().secret_box
        )

    check = run_with_database(work, flags=SLUG_ARGUMENT)
    result = {
        "slug": args.slug,
        "provider": check.provider,
        "ok": check.ok,
        "status": check.status,
        "message": check.message,
    }
    answered = f"HTTP {check.status}" if check.status is not None else "no answer"
    verdict = "accepts" if check.ok else "does not accept"
    text = f"{check.provider} {verdict} {args.slug}'s credentials ({answered}): {check.message}"
    emit(result, as_json=args.json, text=text)
    return 0 if check.ok else 1


@contextlib.contextmanager
def _said_as_flags() -> Iterator[None]:
    """An error naming a field (``accountSid must be ...``) is told with the flag that
    sets it (``--account-sid: must be ...``), the field name not repeated."""
    try:
        yield
    except OpsWatchError as error:
        flag = _FLAGS.get(error.field or "")
        if flag is None or error.field is None:
            raise
        message = error.message
        if message.startswith((f"{error.field} ", f"{error.field}:")):
            message = message[len(error.field) :].lstrip(": ")
        raise CommandError(f"{flag}: {message}") from None
