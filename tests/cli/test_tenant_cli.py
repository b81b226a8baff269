"""``opswatch tenant list`` and ``opswatch tenant update`` as an operator runs them."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from opswatch.models import AuditLog, Tenant
from tests.cli.support import opswatch
from tests.factories import TenantKit

pytestmark = pytest.mark.usefixtures("clean_database")


def as_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


async def test_an_operator_lists_tenants_with_their_time_zone_and_users(
    test_env: dict[str, str], acme: TenantKit, globex: TenantKit
) -> None:
    await Tenant.filter(id=globex.tenant.id).update(
        settings={**globex.tenant.settings, "timezone": "Asia/Tokyo"}
    )

    listed = as_json(opswatch(test_env, "tenant", "list", "--json"))

    assert listed == {
        "tenants": [
            {"slug": "acme", "name": "Acme", "timezone": "UTC", "users": 2},
            {"slug": "globex", "name": "Globex", "timezone": "Asia/Tokyo", "users": 2},
        ]
    }
    text = opswatch(test_env, "tenant", "list")
    assert text.returncode == 0, text.stderr
    assert [line.split()[:2] for line in text.stdout.splitlines()] == [
        ["acme", "UTC"],
        ["globex", "Asia/Tokyo"],
    ]


async def test_an_operator_updates_a_tenant_and_what_is_left_out_survives(
    test_env: dict[str, str], acme: TenantKit
) -> None:
    first = as_json(
        opswatch(
            test_env, "tenant", "update", "acme", "--timezone", "Europe/Berlin",
            "--severity-map", "SEV1=critical", "sev2=High", "--json",
        )
    )  # fmt: skip
    assert first == {
        "slug": "acme",
        "name": "Acme",
        "timezone": "Europe/Berlin",
        "severity_mapping": {"sev1": "critical", "sev2": "high"},
    }

    renamed = as_json(
        opswatch(test_env, "tenant", "update", "acme", "--name", "Acme Ops", "--json")
    )
    assert renamed["timezone"] == "Europe/Berlin"
    assert renamed["severity_mapping"] == {"sev1": "critical", "sev2": "high"}

    cleared = as_json(
        opswatch(test_env, "tenant", "update", "acme", "--clear-severity-map", "--json")
    )
    assert (cleared["name"], cleared["severity_mapping"]) == ("Acme Ops", {})
    entries = await AuditLog.filter(tenant_id=acme.tenant.id, action="tenant.updated")
    assert [entry.source for entry in entries] == ["cli"] * 3


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--severity-map", "urgent=very"], "--severity-map"),
        (["--severity-map", "urgent"], "WORD=SEVERITY"),
        (["--timezone", "Mars/Olympus"], "--timezone"),
        (["--name", " "], "--name"),
        (["--severity-map", "a=low", "--clear-severity-map"], "--clear-severity-map"),
        ([], "nothing to change"),
    ],
)
async def test_a_bad_update_exits_2_naming_the_flag_and_changes_nothing(
    test_env: dict[str, str], acme: TenantKit, args: list[str], named: str
) -> None:
    result = opswatch(test_env, "tenant", "update", "acme", *args)

    assert result.returncode == 2, result.stderr
    assert named in result.stderr
    assert result.stderr.startswith("opswatch: error:") or "usage:" in result.stderr
    tenant = await Tenant.get(id=acme.tenant.id)
    assert (tenant.name, tenant.settings["timezone"], tenant.settings["severity_mapping"]) == (
        "Acme",
        "UTC",
        {},
    )


def test_an_unknown_tenant_is_named(test_env: dict[str, str]) -> None:
    result = opswatch(test_env, "tenant", "update", "nobody", "--name", "X")

    assert result.returncode == 2
    assert "no tenant with slug 'nobody'" in result.stderr
