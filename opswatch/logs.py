"""How OpsWatch's processes log: text for people, or one JSON object per line for log
shippers (``OPSWATCH_LOG_FORMAT=json``); and the one WARNING line a failed delivery
writes, with the same field names wherever it happens, so a search for
``tenant=acme-ops`` or ``{"alert": "k3m9qp"}`` finds every failure of that kind.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from opswatch.config import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# What every LogRecord has; anything else on a record came in ``extra=`` and is ours.
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: timestamp (ISO 8601, UTC), level, logger, message,
    the record's ``extra`` fields, and ``exception`` (the traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: an extra that is a UUID or a datetime is still one line, not a crash.
        return json.dumps(entry, default=str, ensure_ascii=False)


def formatter_for(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(settings: Settings, *, stream: Any = None) -> None:
    """The root logger writes to stderr (or ``stream``) in the configured format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter_for(settings.log_format))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def uvicorn_log_config(settings: Settings) -> dict[str, Any]:
    """uvicorn's loggers pass their records to the root logger, so its own lines come out
    in our format too. As a dictConfig, it also configures the worker processes that
    ``--workers`` spawns, which do not inherit the parent's handlers."""
    formatter: dict[str, Any] = (
        {"()": "opswatch.logs.JsonFormatter"}
        if settings.log_format == "json"
        else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"opswatch": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "opswatch",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {
            name: {"handlers": [], "level": "INFO", "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def person_label(user_id: object | None, name: str | None) -> str:
    """``<id> (<name>)``: the id to look them up by, the name to recognise them."""
    if user_id is None:
        return "-"
    return f"{user_id} ({name})" if name else str(user_id)


def channel_label(channel: str, slack_channel: str | None = None) -> str:
    """``SLACK_CHANNEL:C0123`` when a Slack channel is known, else the channel's name."""
    return f"{channel}:{slack_channel}" if slack_channel else channel


def delivery_failed(
    logger: logging.Logger,
    what: str,
    *,
    tenant: str,
    alert: str | None,
    person: str | None,
    channel: str,
    reason: str,
) -> None:
    """The one WARNING line for a page, Slack post or notice that failed (or may have):
    the fields both readable in the message and as ``extra`` for JSON logs."""
    fields = {
        "tenant": tenant,
        "alert": alert or "-",
        "person": person or "-",
        "channel": channel,
        "reason": reason,
    }
    logger.warning(
        "%s: tenant=%s alert=%s person=%s channel=%s reason=%s",
        what,
        *fields.values(),
        extra=fields,
    )
