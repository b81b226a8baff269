"""Running a team's people from the shell: ``opswatch user list|update|deactivate|
reactivate|token create|token list|token revoke``, each also as one JSON object."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import httpx

from opswatch.models import AuditLog, User, UserToken
from tests.cli.support import opswatch
from tests.factories import TenantKit, graphql

USER_KEYS = {
    "id", "name", "email", "role", "phone", "timezone", "slack_user_id", "active", "created_at",
}  # fmt: skip
TOKEN_KEYS = {"id", "name", "prefix", "user_id", "created_at", "last_used_at", "revoked_at"}


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The one-line error of a command refused as the operator's mistake."""
    assert result.returncode == 2, result.stdout
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0
    return result.stderr


async def test_an_operator_lists_and_updates_users_changing_only_what_they_name(
    test_env: dict[str, str], acme: TenantKit
) -> None:
    slug, email = acme.tenant.slug, acme.viewer.email
    listed = as_json(opswatch(test_env, "user", "list", "--tenant", slug, "--json"))
    assert [u["email"] for u in listed["users"]] == sorted([acme.admin.email, email])
    assert all(set(u) == USER_KEYS for u in listed["users"])
    text = opswatch(test_env, "user", "list", "--tenant", slug)
    assert email in text.stdout
    assert "viewer" in text.stdout

    before = next(u for u in listed["users"] if u["email"] == email)
    updated = as_json(
        opswatch(
            test_env, "user", "update", "--tenant", slug, email,
            "--phone", "+4915100000001", "--timezone", "Europe/Berlin", "--json",
        )
    )  # fmt: skip
    assert updated == {**before, "phone": "+4915100000001", "timezone": "Europe/Berlin"}
    cleared = as_json(
        opswatch(test_env, "user", "update", "--tenant", slug, email, "--phone", "", "--json")
    )
    assert cleared == {**updated, "phone": None}
    renamed = as_json(
        opswatch(
            test_env,
            "user",
            "update",
            "--tenant",
            slug,
            email,
            "--email",
            "vic@acme.example",
            "--json",
        )
    )
    assert renamed["email"] == "vic@acme.example"
    assert await AuditLog.filter(action="user.updated", source="cli").count() == 3


async def test_wrong_values_and_unknown_people_are_named(
    test_env: dict[str, str], acme: TenantKit
) -> None:
    slug = acme.tenant.slug
    assert "--timezone" in refused(
        opswatch(
            test_env,
            "user",
            "update",
            "--tenant",
            slug,
            acme.viewer.email,
            "--timezone",
            "Mars/Base",
        )
    )
    assert "EMAIL" in refused(
        opswatch(test_env, "user", "update", "--tenant", slug, "nobody@acme.example", "--name", "N")
    )
    assert "--email" in refused(
        opswatch(
            test_env,
            "user",
            "update",
            "--tenant",
            slug,
            acme.viewer.email,
            "--email",
            acme.admin.email,
        )
    )
    assert (await User.get(id=acme.viewer.id)).email == acme.viewer.email
    last_admin = refused(
        opswatch(test_env, "user", "deactivate", "--tenant", slug, acme.admin.email)
    )
    assert "EMAIL" in last_admin
    assert "last active admin" in last_admin
    assert "--role" in refused(
        opswatch(test_env, "user", "update", "--tenant", slug, acme.admin.email, "--role", "viewer")
    )
    assert (await User.get(id=acme.admin.id)).active


async def test_a_deactivated_user_is_shown_so_and_can_come_back(
    test_env: dict[str, str], acme: TenantKit, client: httpx.AsyncClient
) -> None:
    slug, email = acme.tenant.slug, acme.viewer.email
    gone = as_json(opswatch(test_env, "user", "deactivate", "--tenant", slug, email, "--json"))
    assert gone["active"] is False
    refused_token = refused(
        opswatch(test_env, "user", "token", "create", "--tenant", slug, email, "--name", "x")
    )
    assert "EMAIL" in refused_token
    assert "deactivated" in refused_token
    response = await client.post(
        "/graphql",
        json={"query": "{ viewer { email } }"},
        headers={"Authorization": f"Bearer {acme.viewer_token}"},
    )
    assert response.status_code == 401
    back = opswatch(test_env, "user", "reactivate", "--tenant", slug, email)
    assert back.returncode == 0, back.stderr
    assert back.stdout.strip() == f"reactivated {email}"
    assert (await graphql(client, acme.viewer_token, "{ viewer { email } }"))["data"]


async def test_a_token_from_the_cli_is_shown_once_listed_by_prefix_and_revoked(
    test_env: dict[str, str], acme: TenantKit, client: httpx.AsyncClient
) -> None:
    slug, email = acme.tenant.slug, acme.viewer.email
    issued = as_json(
        opswatch(
            test_env,
            "user",
            "token",
            "create",
            "--tenant",
            slug,
            email,
            "--name",
            "grafana",
            "--json",
        )
    )
    assert set(issued) == TOKEN_KEYS | {"token"}
    body = await graphql(client, issued["token"], "{ viewer { email } }")
    assert body["data"]["viewer"]["email"] == email

    listed = as_json(opswatch(test_env, "user", "token", "list", "--tenant", slug, email, "--json"))
    assert all(set(t) == TOKEN_KEYS for t in listed["tokens"])
    assert {t["name"] for t in listed["tokens"]} == {"default", "grafana"}
    assert issued["token"] not in json.dumps(listed)
    text = opswatch(test_env, "user", "token", "list", "--tenant", slug, email).stdout
    assert issued["prefix"] in text
    assert issued["token"] not in text

    revoked = as_json(
        opswatch(test_env, "user", "token", "revoke", "--tenant", slug, issued["prefix"], "--json")
    )
    assert revoked["revoked_at"]
    again = as_json(
        opswatch(test_env, "user", "token", "revoke", "--tenant", slug, issued["prefix"], "--json")
    )
    assert again == revoked
    assert (await UserToken.get(id=issued["id"])).revoked_at is not None
    assert "PREFIX" in refused(
        opswatch(test_env, "user", "token", "revoke", "--tenant", slug, "ffffffffffff")
    )


async def test_the_plain_text_token_is_printed_once(
    test_env: dict[str, str], acme: TenantKit
) -> None:
    result = opswatch(
        test_env,
        "user",
        "token",
        "create",
        "--tenant",
        acme.tenant.slug,
        acme.admin.email,
        "--name",
        "ci",
    )
    assert result.returncode == 0, result.stderr
    first, token = result.stdout.strip().splitlines()
    assert "shown only now" in first
    assert token.startswith("owu_")
