"""Telephony credentials are checked for shape when they are configured: a placeholder
or a value copied with a character missing is refused, naming the field as the client
spells it (``accountSid`` in GraphQL, ``--account-sid`` in the CLI), and nothing is
stored; credentials shaped as the provider issues them are stored, encrypted."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from opswatch import runtime
from opswatch.models import AuditLog, Tenant
from opswatch.tenants.tenants import read_secrets
from tests.cli.support import opswatch
from tests.factories import TenantKit, graphql
from tests.fakes.vonage import FakeVonage

CONFIGURE = """
mutation($input: TelephonyInput!) { configureTelephony(input: $input) { slug } }
"""
TWILIO_NUMBER = "+15005550006"
VONAGE_NUMBER = "+4930000000"
# What README.md shows for `opswatch tenant configure-telephony`.
README_SID, README_TOKEN = "AC…", "…"


def twilio_input(**changes: str) -> dict[str, str]:
    account = {
        "provider": "twilio",
        "fromNumber": TWILIO_NUMBER,
        "accountSid": "AC" + secrets.token_hex(16),
        "authToken": secrets.token_hex(16),
    }
    return {**account, **changes}


def vonage_input(**changes: str) -> dict[str, str]:
    vonage = FakeVonage()  # only its credential generators: nothing is served
    application_id, private_key, _ = vonage.add_application()
    api_key, api_secret = vonage.add_account()
    account = {
        "provider": "vonage",
        "fromNumber": VONAGE_NUMBER,
        "applicationId": application_id,
        "privateKey": private_key,
        "apiKey": api_key,
        "apiSecret": api_secret,
        "signatureSecret": secrets.token_urlsafe(32),
    }
    return {**account, **changes}


async def refused_field(client: httpx.AsyncClient, kit: TenantKit, input: dict[str, Any]) -> str:
    """The field an INVALID_INPUT refusal names, after checking it changed nothing."""
    body = await graphql(client, kit.admin_token, CONFIGURE, input=input)
    assert body["data"] is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    field: str = error["extensions"]["field"]
    assert error["message"].startswith(field)
    tenant = await Tenant.get(id=kit.tenant.id)
    assert "telephony" not in tenant.settings
    assert tenant.telephony_number is None
    assert not tenant.secrets_encrypted
    assert not await AuditLog.exists(action="tenant.telephony_configured")
    return field


# Twilio


async def test_the_readme_placeholder_sid_is_refused_naming_account_sid(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    placeholders = twilio_input(accountSid=README_SID, authToken=README_TOKEN)
    assert await refused_field(client, acme, placeholders) == "accountSid"


async def test_the_readme_placeholder_token_is_refused_naming_auth_token(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    assert await refused_field(client, acme, twilio_input(authToken=README_TOKEN)) == "authToken"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"accountSid": "AC" + "a" * 31}, "accountSid", id="sid-one-short"),
        pytest.param({"accountSid": "SK" + "a" * 32}, "accountSid", id="api-key-sid"),
        pytest.param({"accountSid": "AC" + "g" * 32}, "accountSid", id="sid-not-hex"),
        pytest.param({"authToken": "a" * 33}, "authToken", id="token-one-long"),
        pytest.param({"authToken": "your_auth_token"}, "authToken", id="token-placeholder"),
        pytest.param({"fromNumber": "0151 1234567"}, "fromNumber", id="number-not-e164"),
    ],
)
async def test_a_mistyped_twilio_account_is_refused_naming_the_field(
    client: httpx.AsyncClient, acme: TenantKit, changes: dict[str, str], field: str
) -> None:
    assert await refused_field(client, acme, twilio_input(**changes)) == field


async def test_a_well_shaped_twilio_account_is_stored(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: runtime.Runtime
) -> None:
    account = twilio_input()
    body = await graphql(client, acme.admin_token, CONFIGURE, input=account)
    assert body == {"data": {"configureTelephony": {"slug": acme.tenant.slug}}}
    tenant = await Tenant.get(id=acme.tenant.id)
    assert tenant.settings["telephony"] == {"provider": "twilio", "from_number": TWILIO_NUMBER}
    assert account["authToken"] not in (tenant.secrets_encrypted or "")
    assert read_secrets(tenant, app_runtime.secret_box) == {
        "twilio_account_sid": account["accountSid"],
        "twilio_auth_token": account["authToken"],
    }


# Vonage


def ec_private_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"apiKey": "…"}, "apiKey", id="readme-api-key"),
        pytest.param({"apiKey": "a1b2c3d"}, "apiKey", id="api-key-one-short"),
        pytest.param({"apiSecret": "…"}, "apiSecret", id="readme-api-secret"),
        pytest.param({"apiSecret": "s3cr3t!"}, "apiSecret", id="api-secret-short"),
        pytest.param({"applicationId": "app-1"}, "applicationId", id="application-not-uuid"),
        pytest.param(
            {"privateKey": "-----BEGIN PRIVATE KEY-----\nMII...\n-----END PRIVATE KEY-----\n"},
            "privateKey",
            id="private-key-truncated",
        ),
        pytest.param({"privateKey": "app.key"}, "privateKey", id="private-key-a-file-name"),
        pytest.param({"privateKey": ec_private_key()}, "privateKey", id="private-key-not-rsa"),
        pytest.param({"signatureSecret": "…"}, "signatureSecret", id="readme-signature"),
        pytest.param(
            {"signatureSecret": "my signature secret"}, "signatureSecret", id="signature-spaces"
        ),
    ],
)
async def test_a_mistyped_vonage_account_is_refused_naming_the_field(
    client: httpx.AsyncClient, acme: TenantKit, changes: dict[str, str], field: str
) -> None:
    assert await refused_field(client, acme, vonage_input(**changes)) == field


async def test_a_well_shaped_vonage_account_is_stored(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: runtime.Runtime
) -> None:
    account = vonage_input()
    body = await graphql(client, acme.admin_token, CONFIGURE, input=account)
    assert body == {"data": {"configureTelephony": {"slug": acme.tenant.slug}}}
    tenant = await Tenant.get(id=acme.tenant.id)
    assert tenant.settings["telephony"] == {"provider": "vonage", "from_number": VONAGE_NUMBER}
    stored = read_secrets(tenant, app_runtime.secret_box)
    assert stored["vonage_private_key"] == account["privateKey"].strip()
    assert stored["vonage_api_key"] == account["apiKey"]


# The CLI names the flag


async def test_the_cli_refuses_the_readme_placeholders_naming_the_flag(
    test_env: dict[str, str], acme: TenantKit
) -> None:
    result = opswatch(
        test_env,
        "tenant", "configure-telephony", acme.tenant.slug, "--provider", "twilio",
        "--from", TWILIO_NUMBER, "--account-sid", README_SID, "--auth-token", README_TOKEN,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == (
        "opswatch: error: --account-sid: must be your Twilio account SID: "
        "AC followed by 32 hexadecimal characters"
    )
    assert "telephony" not in (await Tenant.get(id=acme.tenant.id)).settings


async def test_the_cli_names_from_for_a_number_not_in_e164(
    test_env: dict[str, str], acme: TenantKit
) -> None:
    account = twilio_input()
    result = opswatch(
        test_env,
        "tenant", "configure-telephony", acme.tenant.slug, "--provider", "twilio",
        "--from", "0151 1234567", "--account-sid", account["accountSid"],
        "--auth-token", account["authToken"],
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("opswatch: error: --from: must be in E.164 form")
