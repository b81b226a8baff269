"""Senders' severity words and the OpsWatch severity each stands for.

A word is looked up in the tenant's own mapping first (so a tenant can re-rank
even a built-in word), then in the built-in table. The webhook refuses a word
neither knows, so a sender's misconfiguration is seen at once; processing an
event already in the inbox never refuses one (it ranks it WARNING), because the
sender was told it was accepted.
"""

from __future__ import annotations

from collections.abc import Mapping

from opswatch.errors import InvalidInput
from opswatch.models.enums import Severity

BUILT_IN: dict[str, Severity] = {
    **dict.fromkeys(["critical", "crit", "page", "p1", "emergency", "fatal"], Severity.CRITICAL),
    **dict.fromkeys(["high", "error", "err", "major", "p2"], Severity.HIGH),
    **dict.fromkeys(["warning", "warn", "p3", "minor"], Severity.WARNING),
    **dict.fromkeys(["low", "p4"], Severity.LOW),
    **dict.fromkeys(["info", "informational", "none", "ok", "p5"], Severity.INFO),
}
DEFAULT = Severity.WARNING  # no severity at all: ranked as most senders mean it
_SEVERITIES = {severity.value: severity for severity in Severity}
_SHOWN_WORD = 64  # a refused word is quoted at most this long


def normalized(word: str) -> str:
    """How words are compared and stored: trimmed and lower-cased."""
    return word.strip().lower()


def known(word: str, mapping: Mapping[str, str]) -> Severity | None:
    """The severity ``word`` stands for, or None when neither table knows it."""
    key = normalized(word)
    return _SEVERITIES.get(mapping.get(key, "")) or BUILT_IN.get(key)


def map_severity(label: str | None, mapping: Mapping[str, str]) -> Severity:
    """Never fails: an event already accepted must still page, so unknown is WARNING."""
    if label is None or not label.strip():
        return DEFAULT
    return known(label, mapping) or DEFAULT


def accepted_words(mapping: Mapping[str, str]) -> list[str]:
    """Every word a sender may use: the built-in ones, then the tenant's own."""
    return [*BUILT_IN, *sorted(set(mapping) - set(BUILT_IN))]


def checked(label: str | None, field: str, mapping: Mapping[str, str]) -> str | None:
    """``label`` when it is absent or a known word; else InvalidInput naming ``field``
    (as the sender's payload spells it) and listing the words accepted. A blank one is
    absent: templating senders send ``""`` for "no severity"."""
    if label is None or not label.strip() or known(label, mapping) is not None:
        return label
    shown = label if len(label) <= _SHOWN_WORD else label[:_SHOWN_WORD] + "…"
    raise InvalidInput(
        f"{field}: unknown severity {shown!r}; use one of "
        f"{', '.join(accepted_words(mapping))}, or add it to the tenant's severity mapping",
        field=field,
    )
