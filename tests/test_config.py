"""Settings: defaults for the embedded shape, and errors that name the variable."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from opswatch.config import ConfigError, load_settings


def test_embedded_defaults_generate_a_private_secret_key(tmp_path: Path) -> None:
    settings = load_settings({"OPSWATCH_DATA_DIR": str(tmp_path)})
    assert settings.embedded
    assert settings.database_url == f"sqlite://{tmp_path / 'opswatch.sqlite3'}"
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_settings({"OPSWATCH_DATA_DIR": str(tmp_path)}).secret_keys == settings.secret_keys


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OPSWATCH_DATABASE_URL", "mysql://localhost/x"),
        ("OPSWATCH_REDIS_URL", "http://localhost"),
        ("OPSWATCH_PUBLIC_URL", "opswatch.example.com"),
        ("OPSWATCH_PORT", "eighty"),
        ("OPSWATCH_PORT", "70000"),
        ("OPSWATCH_SLACK_API_URL", "ftp://slack"),
        ("OPSWATCH_SECRET_KEY", "short"),
    ],
)
def test_a_bad_value_names_its_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({"OPSWATCH_DATA_DIR": str(tmp_path), name: value})


def test_production_shape_requires_a_shared_secret_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="OPSWATCH_SECRET_KEY"):
        load_settings(
            {"OPSWATCH_DATA_DIR": str(tmp_path), "OPSWATCH_REDIS_URL": "redis://127.0.0.1:6379"}
        )
