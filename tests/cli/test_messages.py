"""What the command says about itself is true: what it applied, whether a server runs,
where its links point, and one prefix on every error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from opswatch.config import load_settings, served_url
from tests.cli.support import opswatch
from tests.conftest import TEST_SECRET, free_port

PREFIX = "opswatch: error: "


def embedded_env(data_dir: Path) -> dict[str, str]:
    """A fresh embedded shape: its own SQLite file, no Redis, no OPSWATCH_PUBLIC_URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSWATCH_")}
    return {**env, "OPSWATCH_DATA_DIR": str(data_dir), "OPSWATCH_SECRET_KEY": TEST_SECRET}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "opswatch"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_db_upgrade_on_an_empty_database_says_what_it_applied(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    first = run(env, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("applied 12 migration(s) to sqlite://")
    assert "0001_initial" in first.stdout
    assert "0012_provider_breaker" in first.stdout
    again = run(env, "db", "upgrade")
    assert again.returncode == 0, again.stderr
    assert "was already up to date; nothing applied" in again.stdout


def test_a_command_on_a_database_never_upgraded_says_to_upgrade(tmp_path: Path) -> None:
    result = run(embedded_env(tmp_path), "demo")
    assert result.returncode == 2
    assert result.stderr.startswith(PREFIX)
    assert "has no OpsWatch tables yet: run `opswatch db upgrade`" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_seeds_without_claiming_a_server_is_running(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    assert run(env, "db", "upgrade").returncode == 0
    result = run(env, "demo")
    assert result.returncode == 0, result.stderr
    assert "is serving" not in result.stdout
    assert "No server was started: run `opswatch serve`" in result.stdout


@pytest.mark.parametrize(
    ("env_change", "args", "named"),
    [
        ({"OPSWATCH_PORT": "eighty"}, ["db", "upgrade"], "OPSWATCH_PORT"),
        ({}, ["apikey", "create", "--tenant", "x", "--field-map", "[1]"], "--field-map"),
        ({}, ["no-such-command"], "COMMAND"),
        ({}, ["user", "create", "--tenant", "nope", "--email", "a@b.example", "--name", "A"],
         "--tenant"),
    ],
)  # fmt: skip
def test_every_error_carries_the_one_prefix(
    test_env: dict[str, str], env_change: dict[str, str], args: list[str], named: str
) -> None:
    result = opswatch({**test_env, **env_change}, *args)
    assert result.returncode == 2, result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith(PREFIX), result.stderr
    assert named in last_line
    assert result.stderr.count("error") == 1, result.stderr


def test_links_name_the_served_port_unless_a_public_url_is_set() -> None:
    assert load_settings({"OPSWATCH_PORT": "9123"}).public_url == "http://127.0.0.1:9123"
    assert load_settings({"OPSWATCH_HOST": "0.0.0.0"}).public_url == "http://127.0.0.1:8000"  # noqa: S104
    assert served_url("::1", 8000) == "http://[::1]:8000"
    configured = load_settings(
        {"OPSWATCH_PORT": "9123", "OPSWATCH_PUBLIC_URL": "https://ow.example/"}
    )
    assert configured.public_url == "https://ow.example"
    assert configured.public_url_configured


def test_a_server_started_on_another_port_links_to_that_port(tmp_path: Path) -> None:
    port = free_port()
    env = embedded_env(tmp_path)
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "opswatch"), "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            assert server.poll() is None, "the server exited"
            time.sleep(0.2)
        token = json.loads((tmp_path / "demo-credentials.json").read_text())["user_token"]
        answer = httpx.post(
            f"{base}/graphql",
            json={"query": "{ viewer { calendarUrl } }"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        assert answer["data"]["viewer"]["calendarUrl"].startswith(f"{base}/api/v1/calendars/")
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert f"OpsWatch is serving the demo tenant at {base}" in output
