"""Settings, read once from ``OPSWATCH_*`` environment variables.

A bad value stops start-up with a message that names the variable, so an
operator never has to guess which of a dozen settings was wrong.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

PREFIX = "OPSWATCH_"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None
    # Prefix of every Redis key (queues, event stream), so deployments can share a Redis.
    redis_namespace: str
    # First key encrypts; all keys decrypt, so a key can be rotated in.
    secret_keys: tuple[str, ...]
    # Every link OpsWatch prints or sends starts with it: OPSWATCH_PUBLIC_URL, or else
    # the address this process serves (``served_url``).
    public_url: str
    public_url_configured: bool
    slack_signing_secret: str | None
    # The Slack app's OAuth credentials, for installing it into workspaces.
    slack_client_id: str | None
    slack_client_secret: str | None
    slack_api_url: str | None
    twilio_api_url: str | None
    vonage_api_url: str | None
    host: str
    port: int
    max_body_bytes: int
    inbox_sweep_after_seconds: int
    event_retention: int
    # Per API process: each process counts only the sockets it holds.
    max_ws_connections_per_token: int
    max_subscriptions_per_connection: int
    # "text" for people, "json" (one object per line) for log shippers.
    log_format: str = "text"

    @property
    def embedded(self) -> bool:
        """True when no Redis is configured: queue and events stay in this process."""
        return self.redis_url is None

    @property
    def database_backend(self) -> str:
        return "sqlite" if self.database_url.startswith("sqlite") else "postgres"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        value = env.get(PREFIX + name)
        return value.strip() if value and value.strip() else None

    data_dir = Path(get("DATA_DIR") or ".opswatch").expanduser().resolve()
    database_url = get("DATABASE_URL") or f"sqlite://{data_dir / 'opswatch.sqlite3'}"
    _check_url("DATABASE_URL", database_url, {"sqlite", "postgres", "postgresql", "asyncpg"})
    redis_url = get("REDIS_URL")
    if redis_url is not None:
        _check_url("REDIS_URL", redis_url, {"redis", "rediss", "unix"})

    host = get("HOST") or "127.0.0.1"
    port = _int("PORT", get("PORT"), 8000, low=1, high=65535)
    configured_url = get("PUBLIC_URL")
    if configured_url is not None:
        _check_url("PUBLIC_URL", configured_url, {"http", "https"})
    public_url = (configured_url or served_url(host, port)).rstrip("/")
    for name in ("SLACK_API_URL", "TWILIO_API_URL", "VONAGE_API_URL"):
        value = get(name)
        if value is not None:
            _check_url(name, value, {"http", "https"})

    embedded = redis_url is None and database_url.startswith("sqlite")
    secret_keys = _secret_keys(get("SECRET_KEY"), data_dir, generate=embedded)

    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        redis_namespace=get("REDIS_NAMESPACE") or "opswatch",
        secret_keys=secret_keys,
        public_url=public_url,
        public_url_configured=configured_url is not None,
        slack_signing_secret=get("SLACK_SIGNING_SECRET"),
        slack_client_id=get("SLACK_CLIENT_ID"),
        slack_client_secret=get("SLACK_CLIENT_SECRET"),
        slack_api_url=get("SLACK_API_URL"),
        twilio_api_url=get("TWILIO_API_URL"),
        vonage_api_url=get("VONAGE_API_URL"),
        host=host,
        port=port,
        max_body_bytes=_int("MAX_BODY_BYTES", get("MAX_BODY_BYTES"), 1 << 20, low=1024),
        inbox_sweep_after_seconds=_int(
            "INBOX_SWEEP_AFTER_SECONDS", get("INBOX_SWEEP_AFTER_SECONDS"), 60, low=1
        ),
        event_retention=_int("EVENT_RETENTION", get("EVENT_RETENTION"), 10_000, low=10),
        max_ws_connections_per_token=_int(
            "MAX_WS_CONNECTIONS_PER_TOKEN", get("MAX_WS_CONNECTIONS_PER_TOKEN"), 20, low=1
        ),
        max_subscriptions_per_connection=_int(
            "MAX_SUBSCRIPTIONS_PER_CONNECTION", get("MAX_SUBSCRIPTIONS_PER_CONNECTION"), 50, low=1
        ),
        log_format=_choice("LOG_FORMAT", get("LOG_FORMAT"), LOG_FORMATS),
    )


def served_url(host: str, port: int) -> str:
    """The URL a server listening on ``host``:``port`` answers on. A wildcard address
    is reachable on loopback; other machines need OPSWATCH_PUBLIC_URL."""
    if host in {"", "0.0.0.0", "::", "[::]"}:  # noqa: S104  (reading, not binding)
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"http://{host}:{port}"


def _check_url(name: str, value: str, schemes: set[str]) -> None:
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        allowed = ", ".join(sorted(s + "://" for s in schemes))
        raise ConfigError(f"{PREFIX}{name}: expected a URL starting with one of {allowed}")
    if parts.scheme in {"http", "https"} and not parts.netloc:
        raise ConfigError(f"{PREFIX}{name}: the URL has no host")


LOG_FORMATS = ("text", "json")


def _choice(name: str, raw: str | None, allowed: tuple[str, ...]) -> str:
    """One of ``allowed`` (the first when unset), compared case-insensitively."""
    if raw is None:
        return allowed[0]
    if raw.lower() not in allowed:
        raise ConfigError(f"{PREFIX}{name}: expected one of {', '.join(allowed)}, got {raw!r}")
    return raw.lower()


def _int(name: str, raw: str | None, default: int, *, low: int, high: int | None = None) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name}: expected an integer, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"{PREFIX}{name}: must be {bound}, got {value}")
    return value


def _secret_keys(raw: str | None, data_dir: Path, *, generate: bool) -> tuple[str, ...]:
    if raw is None:
        if not generate:
            raise ConfigError(
                f"{PREFIX}SECRET_KEY: required with PostgreSQL or Redis "
                "(every process must share it to read stored secrets)"
            )
        return (_embedded_secret_key(data_dir),)
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    for key in keys:
        if len(key) < 32:
            raise ConfigError(f"{PREFIX}SECRET_KEY: each key needs at least 32 characters")
    return keys


def _embedded_secret_key(data_dir: Path) -> str:
    """The embedded shape keeps its own key beside its database, readable by us only."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of ours created it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
