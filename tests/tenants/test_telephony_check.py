"""``testTelephony`` and ``opswatch tenant test-telephony``: one authenticated read of the
provider's account with the stored credentials, reporting what the provider said. No
call, no SMS, nothing changed; a refusal or an unreachable provider is a result, not
an error of OpsWatch's."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest

from opswatch.audit.actor import Actor
from opswatch.models import AuditLog, Tenant
from opswatch.runtime import Runtime
from opswatch.tenants.telephony import TelephonyConfig, configure_telephony
from tests.cli.support import opswatch
from tests.conftest import free_port
from tests.factories import TenantKit, graphql
from tests.fakes.twilio import FakeTwilio
from tests.fakes.vonage import FakeVonage

TEST = "mutation { testTelephony { provider ok status message } }"


async def use_twilio(
    kit: TenantKit, runtime: Runtime, sid: str, token: str, number: str = "+15005550006"
) -> None:
    await configure_telephony(
        tenant=kit.tenant,
        box=runtime.secret_box,
        config=TelephonyConfig(
            "twilio", number, {"twilio_account_sid": sid, "twilio_auth_token": token}
        ),
        actor=Actor.system("test"),
    )
    await kit.tenant.refresh_from_db()


@pytest.fixture
async def twilio(app_runtime: Runtime, acme: TenantKit) -> AsyncIterator[tuple[FakeTwilio, str]]:
    """Acme pages through the fake Twilio; yields it and Acme's account SID."""
    async with FakeTwilio() as fake:
        sid, token = fake.add_account(friendly_name="Acme On-Call")
        app_runtime.settings = dataclasses.replace(app_runtime.settings, twilio_api_url=fake.url)
        await use_twilio(acme, app_runtime, sid, token)
        yield fake, sid


@pytest.fixture
async def vonage(
    app_runtime: Runtime, acme: TenantKit, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[FakeVonage, str]]:
    """Acme pages through the fake Vonage; yields it and Acme's API key."""
    async with FakeVonage() as fake:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.ca_path)
        application_id, private_key, _ = fake.add_application()
        api_key, api_secret = fake.add_account(balance=42.5)
        app_runtime.settings = dataclasses.replace(app_runtime.settings, vonage_api_url=fake.url)
        await configure_telephony(
            tenant=acme.tenant,
            box=app_runtime.secret_box,
            config=TelephonyConfig(
                "vonage",
                "+4930000000",
                {
                    "vonage_application_id": application_id,
                    "vonage_private_key": private_key,
                    "vonage_api_key": api_key,
                    "vonage_api_secret": api_secret,
                    "vonage_signature_secret": secrets.token_urlsafe(32),
                },
            ),
            actor=Actor.system("test"),
        )
        await acme.tenant.refresh_from_db()
        yield fake, api_key


async def asked(client: httpx.AsyncClient, kit: TenantKit) -> dict[str, object]:
    body = await graphql(client, kit.admin_token, TEST)
    assert "errors" not in body, body
    result: dict[str, object] = body["data"]["testTelephony"]
    return result


async def audit_entries() -> int:
    return await AuditLog.all().count()


# Twilio


async def test_testtelephony_reports_what_twilio_said(
    client: httpx.AsyncClient, acme: TenantKit, twilio: tuple[FakeTwilio, str]
) -> None:
    fake, _ = twilio
    before = await audit_entries()
    assert await asked(client, acme) == {
        "provider": "twilio",
        "ok": True,
        "status": 200,
        "message": "account 'Acme On-Call' is active",
    }
    assert fake.calls == []  # nobody was called...
    assert fake.messages == []  # ...or texted
    assert await audit_entries() == before


async def test_revoked_twilio_credentials_are_reported_as_twilio_refused_them(
    client: httpx.AsyncClient, acme: TenantKit, twilio: tuple[FakeTwilio, str]
) -> None:
    fake, sid = twilio
    fake.rotate_token(sid)  # someone rotated the auth token in Twilio's console
    result = await asked(client, acme)
    assert result["ok"] is False
    assert result["status"] == 401
    assert (
        result["message"]
        == "Twilio answered 401 (error 20003): Unable to fetch record: Authenticate"
    )


async def test_an_unreachable_twilio_is_reported_not_raised(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    await use_twilio(acme, app_runtime, "AC" + secrets.token_hex(16), secrets.token_hex(16))
    nobody = f"http://127.0.0.1:{free_port()}"
    app_runtime.settings = dataclasses.replace(app_runtime.settings, twilio_api_url=nobody)
    result = await asked(client, acme)
    assert result["ok"] is False
    assert result["status"] is None
    assert str(result["message"]).startswith("could not reach Twilio: ")


async def test_a_twilio_outage_is_reported_with_its_status(
    client: httpx.AsyncClient, acme: TenantKit, twilio: tuple[FakeTwilio, str]
) -> None:
    fake, _ = twilio
    fake.fail_next(503, code=20503, message="Service Unavailable")
    result = await asked(client, acme)
    assert (result["ok"], result["status"]) == (False, 503)
    assert "Service Unavailable" in str(result["message"])


# Vonage


async def test_testtelephony_reports_what_vonage_said(
    client: httpx.AsyncClient, acme: TenantKit, vonage: tuple[FakeVonage, str]
) -> None:
    fake, _ = vonage
    assert await asked(client, acme) == {
        "provider": "vonage",
        "ok": True,
        "status": 200,
        "message": "balance 42.50 EUR",
    }
    assert fake.calls == []
    assert fake.messages == []


async def test_revoked_vonage_credentials_are_reported_as_vonage_refused_them(
    client: httpx.AsyncClient, acme: TenantKit, vonage: tuple[FakeVonage, str]
) -> None:
    fake, api_key = vonage
    fake.rotate_secret(api_key)
    assert await asked(client, acme) == {
        "provider": "vonage",
        "ok": False,
        "status": 401,
        "message": "Vonage answered 401: Unauthorized: You did not provide correct credentials.",
    }


async def test_an_unreachable_vonage_is_reported_not_raised(
    client: httpx.AsyncClient,
    acme: TenantKit,
    app_runtime: Runtime,
    vonage: tuple[FakeVonage, str],
) -> None:
    nobody = f"https://127.0.0.1:{free_port()}"
    app_runtime.settings = dataclasses.replace(app_runtime.settings, vonage_api_url=nobody)
    result = await asked(client, acme)
    assert (result["provider"], result["ok"], result["status"]) == ("vonage", False, None)
    assert str(result["message"]).startswith("could not reach Vonage: ")


# Who may ask, and a tenant without telephony


async def test_a_tenant_without_telephony_is_told_to_configure_it(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    body = await graphql(client, acme.admin_token, TEST)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "INVALID_INPUT"}
    assert "configure" in error["message"]


async def test_only_admins_test_the_telephony(
    client: httpx.AsyncClient, acme: TenantKit, twilio: tuple[FakeTwilio, str]
) -> None:
    body = await graphql(client, acme.viewer_token, TEST)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_each_tenant_tests_its_own_account(
    client: httpx.AsyncClient,
    acme: TenantKit,
    globex: TenantKit,
    app_runtime: Runtime,
    twilio: tuple[FakeTwilio, str],
) -> None:
    fake, _ = twilio
    sid, token = fake.add_account(friendly_name="Globex Pager")
    await use_twilio(globex, app_runtime, sid, token, number="+15005550007")
    assert (await asked(client, globex))["message"] == "account 'Globex Pager' is active"
    assert (await asked(client, acme))["message"] == "account 'Acme On-Call' is active"


# The CLI


async def test_the_cli_reports_what_twilio_said(
    test_env: dict[str, str], acme: TenantKit, twilio: tuple[FakeTwilio, str]
) -> None:
    fake, sid = twilio
    env = {**test_env, "OPSWATCH_TWILIO_API_URL": fake.url}
    slug = acme.tenant.slug
    good = await asyncio.to_thread(opswatch, env, "tenant", "test-telephony", slug, "--json")
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout) == {
        "slug": slug,
        "provider": "twilio",
        "ok": True,
        "status": 200,
        "message": "account 'Acme On-Call' is active",
    }
    text = await asyncio.to_thread(opswatch, env, "tenant", "test-telephony", slug)
    assert text.stdout.strip() == (
        f"twilio accepts {slug}'s credentials (HTTP 200): account 'Acme On-Call' is active"
    )

    fake.rotate_token(sid)
    refused = await asyncio.to_thread(opswatch, env, "tenant", "test-telephony", slug, "--json")
    assert refused.returncode == 1  # scripts can tell a refusal from success
    assert json.loads(refused.stdout)["status"] == 401
    assert (await Tenant.get(id=acme.tenant.id)).settings["telephony"]["provider"] == "twilio"


async def test_the_cli_tells_a_tenant_without_telephony_to_configure_it(
    test_env: dict[str, str], acme: TenantKit
) -> None:
    result = opswatch(test_env, "tenant", "test-telephony", acme.tenant.slug)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("opswatch: error: this tenant has no telephony provider")
