"""OPSWATCH_LOG_FORMAT=json writes one JSON object per line that a log shipper can read;
text stays the default; a format nobody knows stops start-up naming the variable."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from opswatch.config import ConfigError, load_settings
from opswatch.logs import configure_logging, delivery_failed, uvicorn_log_config

ENV = {"OPSWATCH_SECRET_KEY": "x" * 40, "OPSWATCH_DATABASE_URL": "postgres://db/opswatch"}


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_logs_are_one_object_per_line_with_the_failure_fields(
    restore_root_logger: None,
) -> None:
    stream = io.StringIO()
    configure_logging(load_settings({**ENV, "OPSWATCH_LOG_FORMAT": "json"}), stream=stream)
    logger = logging.getLogger("opswatch.test")
    logger.info("started on %s", "port 8000")
    delivery_failed(
        logger,
        "page failed",
        tenant="acme-ops",
        alert="k3m9qp",
        person="0b6f (Ann Example)",
        channel="SMS",
        reason="Twilio refused: 21211 invalid number",
    )
    started, failed = _lines(stream)
    assert started["level"] == "INFO"
    assert started["logger"] == "opswatch.test"
    assert started["message"] == "started on port 8000"
    stamp = datetime.fromisoformat(str(started["timestamp"]))
    assert stamp.utcoffset() == timedelta(0)
    assert failed["level"] == "WARNING"
    assert {k: failed[k] for k in ("tenant", "alert", "person", "channel", "reason")} == {
        "tenant": "acme-ops",
        "alert": "k3m9qp",
        "person": "0b6f (Ann Example)",
        "channel": "SMS",
        "reason": "Twilio refused: 21211 invalid number",
    }
    assert "tenant=acme-ops alert=k3m9qp" in str(failed["message"])
    assert "exception" not in failed


def test_an_exception_travels_in_its_own_field_on_the_same_line(
    restore_root_logger: None,
) -> None:
    stream = io.StringIO()
    configure_logging(load_settings({**ENV, "OPSWATCH_LOG_FORMAT": "JSON"}), stream=stream)
    try:
        raise RuntimeError("the disk is full\nand this is its second line")
    except RuntimeError:
        logging.getLogger("opswatch.test").exception("could not write")
    (line,) = _lines(stream)
    assert line["level"] == "ERROR"
    assert line["message"] == "could not write"
    assert "RuntimeError: the disk is full" in str(line["exception"])


def test_text_is_the_default(restore_root_logger: None) -> None:
    stream = io.StringIO()
    settings = load_settings(ENV)
    assert settings.log_format == "text"
    configure_logging(settings, stream=stream)
    logging.getLogger("opswatch.test").warning("plain words")
    assert stream.getvalue().rstrip().endswith("WARNING opswatch.test plain words")


def test_uvicorn_lines_come_out_as_json_too(restore_root_logger: None) -> None:
    settings = load_settings({**ENV, "OPSWATCH_LOG_FORMAT": "json"})
    config = uvicorn_log_config(settings)
    logging.config.dictConfig(config)
    stream = io.StringIO()
    (handler,) = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    logging.getLogger("uvicorn.error").info("Uvicorn running on %s", "http://0.0.0.0:8000")
    (line,) = _lines(stream)
    assert line["logger"] == "uvicorn.error"
    assert line["message"] == "Uvicorn running on http://0.0.0.0:8000"


def test_an_unknown_log_format_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="OPSWATCH_LOG_FORMAT: expected one of text, json"):
        load_settings({**ENV, "OPSWATCH_LOG_FORMAT": "yaml"})
