"""How large each field of an alert event may be, and what happens past it.

Whatever the webhook accepts must be storable on both backends, or a 202 turns
into an event that fails every batch it is in. So every field is bounded here,
before the inbox, by one of three rules (the README's table lists them):

- **cut**: free text (title, description, label and annotation values, the
  agent's report) is cut to its limit and ends in ``…``; the alert still pages.
- **dropped**: a link over ``MAX_URL`` becomes no link, since a cut URL points
  somewhere else; the sender's JSON (kept in the inbox) still has it.
- **refused**: a fingerprint over ``MAX_FINGERPRINT`` is a 422 naming the field,
  because cutting it could merge two different alerts into one.

NUL characters are removed everywhere, the sender's own JSON included:
PostgreSQL can store them neither in text nor in jsonb, and no monitoring
system means one.
"""

from __future__ import annotations

from typing import Any

MAX_TITLE = 500
MAX_DESCRIPTION = 10_000
MAX_FINGERPRINT = 255
MAX_SOURCE = 200
MAX_URL = 2_000
MAX_LABEL_KEY = 200
MAX_LABEL_VALUE = 4_000
MAX_ANNOTATION_VALUE = 10_000
MAX_GROUP_KEY = 4_000
MAX_AGENT_TEXT = 10_000  # what an agent did becomes an incident's solution, full-text indexed
MAX_AGENT_NAME = 200
MAX_BATCH = 1_000

CUT_MARK = "…"
NUL = "\x00"
# How NUL can appear in JSON text: only escaped (a raw NUL byte is not valid JSON).
NUL_ESCAPE = b"\\u0000"


def cut(text: str, limit: int) -> str:
    """``text`` if it fits, else its first characters and ``…``, ``limit`` in all."""
    if len(text) <= limit:
        return text
    return text[: limit - len(CUT_MARK)] + CUT_MARK


def link(text: str | None) -> str | None:
    """A URL as given, or None when it is blank or too long to be kept whole."""
    if text is None:
        return None
    stripped = text.strip()
    return stripped if stripped and len(stripped) <= MAX_URL else None


def without_nul(value: Any) -> Any:
    """The JSON value with NUL removed from every string, keys included."""
    if isinstance(value, str):
        return value.replace(NUL, "")
    if isinstance(value, dict):
        return {key.replace(NUL, ""): without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    return value


def may_hold_nul(body: bytes) -> bool:
    """A cheap test on the raw body, so only bodies that may hold NUL are walked.
    (An escaped backslash before ``u0000`` matches too; walking it is harmless.)"""
    return NUL_ESCAPE in body
