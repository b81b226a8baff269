"""The admin CLI as scripts drive it: ``--json`` prints one object; bad arguments exit 2."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from opswatch.models import ApiKey, Tenant, User
from tests.cli.support import opswatch
from tests.fakes.vonage import FakeVonage

pytestmark = pytest.mark.usefixtures("clean_database")


def as_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


async def test_tenant_key_and_user_in_json_mode(test_env: dict[str, str]) -> None:
    tenant = as_json(opswatch(test_env, "tenant", "create", "Initech Ops", "--json"))
    assert tenant["slug"] == "initech-ops"
    assert await Tenant.exists(id=tenant["id"], name="Initech Ops")

    key = as_json(
        opswatch(
            test_env,
            "apikey", "create", "--tenant", "initech-ops", "--name", "prometheus",
            "--field-map", '{"title": "alert.name"}', "--json",
        )
    )  # fmt: skip
    assert set(key) == {"id", "prefix", "key"}
    stored = await ApiKey.get(id=key["id"])
    assert stored.field_map == {"title": "alert.name"}
    assert key["key"] not in stored.key_hash

    user = as_json(
        opswatch(
            test_env,
            "user", "create", "--tenant", "initech-ops", "--email", "hans@initech.example",
            "--name", "Hans", "--role", "admin", "--phone", "+4915100000001",
            "--timezone", "Europe/Berlin", "--json",
        )
    )  # fmt: skip
    assert user["token"].startswith("owu_")
    assert (await User.get(id=user["id"])).timezone == "Europe/Berlin"

    updated = as_json(
        opswatch(
            test_env,
            "apikey", "update", "--tenant", "initech-ops", key["prefix"],
            "--field-map", '{"title": "payload.summary"}', "--rate-limit", "600", "--json",
        )
    )  # fmt: skip
    assert updated["field_map"] == {"title": "payload.summary"}
    assert updated["rate_limit_per_minute"] == 600
    rejected = opswatch(
        test_env, "apikey", "update", "--tenant", "initech-ops", key["prefix"],
        "--field-map", '{"title": ""}',
    )  # fmt: skip
    assert rejected.returncode == 2
    assert "--field-map" in rejected.stderr or "field_map.title" in rejected.stderr

    listed = as_json(opswatch(test_env, "apikey", "list", "--tenant", "initech-ops", "--json"))
    assert [k["prefix"] for k in listed["keys"]] == [key["prefix"]]
    revoked = as_json(
        opswatch(test_env, "apikey", "revoke", "--tenant", "initech-ops", key["prefix"], "--json")
    )
    assert revoked["revoked_at"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (
            ["user", "create", "--tenant", "nope", "--email", "a@b.example", "--name", "A"],
            "--tenant",
        ),
        (["tenant", "create", "X", "--slug", "Not A Slug"], "--slug"),
        (["apikey", "create", "--tenant", "x", "--field-map", "[1]"], "--field-map"),
        (["user", "create", "--tenant", "x", "--name", "A"], "--email"),
        (
            ["user", "create", "--tenant", "x", "--email", "a@b.c", "--name", "A", "--role", "god"],
            "--role",
        ),
    ],
)
def test_bad_arguments_exit_2_naming_the_argument(
    test_env: dict[str, str], args: list[str], named: str
) -> None:
    result = opswatch(test_env, *args)
    assert result.returncode == 2, result.stderr
    assert named in result.stderr
    assert result.stdout == ""


async def test_bad_field_values_exit_2_naming_the_flag(test_env: dict[str, str]) -> None:
    as_json(opswatch(test_env, "tenant", "create", "Acme", "--json"))
    result = opswatch(
        test_env, "user", "create", "--tenant", "acme", "--email", "a@acme.example",
        "--name", "A", "--phone", "12345",
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "--phone" in result.stderr
    assert not await User.exists(email="a@acme.example")


async def test_demo_is_idempotent(test_env: dict[str, str]) -> None:
    first = as_json(opswatch(test_env, "demo", "--json"))
    second = as_json(opswatch(test_env, "demo", "--json"))
    assert first == second
    assert await Tenant.filter(slug="demo").count() == 1
    assert await User.filter(tenant_id=first["tenant_id"]).count() == 7


def test_an_unreachable_database_is_a_clear_error(test_env: dict[str, str]) -> None:
    env = {**test_env, "OPSWATCH_DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"}
    result = opswatch(env, "tenant", "create", "X")
    assert result.returncode == 1
    assert "cannot reach postgres://127.0.0.1:1/none" in result.stderr


async def test_configure_telephony_stores_the_provider_and_names_missing_flags(
    test_env: dict[str, str], tmp_path: Path
) -> None:
    as_json(opswatch(test_env, "tenant", "create", "Acme", "--json"))
    missing = opswatch(
        test_env, "tenant", "configure-telephony", "acme", "--provider", "twilio",
        "--from", "+15005550006", "--account-sid", "AC123",
    )  # fmt: skip
    assert missing.returncode == 2
    assert "--auth-token" in missing.stderr
    key_file = tmp_path / "app.key"
    application_id, private_key, _ = FakeVonage().add_application()
    key_file.write_text(private_key)
    result = as_json(
        opswatch(
            test_env,
            "tenant", "configure-telephony", "acme", "--provider", "vonage",
            "--from", "+4930000000", "--application-id", application_id, "--private-key-file",
            str(key_file), "--api-key", "a1b2c3d4", "--api-secret", "Q2w3E4r5T6y7U8i9",
            "--signature-secret", "vonage-signature-secret", "--json",
        )
    )  # fmt: skip
    assert result == {"slug": "acme", "provider": "vonage", "from_number": "+4930000000"}
    tenant = await Tenant.get(slug="acme")
    assert tenant.settings["telephony"] == {"provider": "vonage", "from_number": "+4930000000"}
    assert private_key.splitlines()[1] not in (tenant.secrets_encrypted or "")
