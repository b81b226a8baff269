"""Searching knowledge (incidents and runbooks) by the words of a query.

Each word matches as a case-insensitive substring (so "crash" finds
"CrashLoopBackOff"); results rank by where the words were found (title above
solution and root cause above the rest) and then by recency. The candidates
are bounded: the newest matching entries of each kind.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import reduce
from operator import or_

from tortoise.expressions import Q

from opswatch.models import Incident, Runbook, Tenant

MAX_TERMS = 8
CANDIDATES = 200
PREVIEW_CHARS = 240
WEIGHTS = {"title": 3, "solution": 2, "root_cause": 2, "summary": 1, "body": 1, "tags": 1}


@dataclass(frozen=True)
class Hit:
    kind: str  # "incident" or "runbook"
    id: uuid.UUID
    title: str
    severity: str
    preview: str  # a window of the solution (or body) around the first match
    highlight: tuple[int, int] | None  # where that match is in the preview
    score: int
    slug: str | None = None


def terms_of(query: str) -> list[str]:
    words = [w.lower() for w in re.findall(r"[\w.\-/]+", query) if len(w) >= 2]
    return list(dict.fromkeys(words))[:MAX_TERMS]


async def search(tenant: Tenant, query: str, first: int = 3) -> list[Hit]:
    terms = terms_of(query)
    if not terms:
        return []
    incident_fields = ("title", "summary", "root_cause", "solution")
    incidents = (
        await Incident.filter(tenant=tenant)
        .filter(_any(incident_fields, terms))
        .order_by("-updated_at")
        .limit(CANDIDATES)
    )
    runbooks = (
        await Runbook.filter(tenant=tenant)
        .filter(_any(("title", "body"), terms))
        .order_by("-updated_at")
        .limit(CANDIDATES)
    )
    hits = [_incident_hit(i, terms) for i in incidents] + [_runbook_hit(r, terms) for r in runbooks]
    hits.sort(key=lambda h: -h.score)  # stable: recency breaks ties
    return hits[:first]


def _any(fields: tuple[str, ...], terms: list[str]) -> Q:
    return reduce(or_, (Q(**{f"{f}__icontains": t}) for f in fields for t in terms))


def _score(texts: dict[str, str], terms: list[str]) -> int:
    lowered = {name: text.lower() for name, text in texts.items()}
    return sum(
        WEIGHTS[name] for term in terms for name, text in lowered.items() if term in text
    ) + 5 * sum(1 for term in terms if any(term in text for text in lowered.values()))


def _incident_hit(incident: Incident, terms: list[str]) -> Hit:
    texts = {
        "title": incident.title,
        "summary": incident.summary or "",
        "root_cause": incident.root_cause or "",
        "solution": incident.solution or "",
    }
    source = incident.solution or incident.root_cause or incident.summary or ""
    return Hit(
        "incident",
        incident.id,
        incident.title,
        incident.severity.value,
        *preview(source, terms),
        _score(texts, terms),
    )


def _runbook_hit(runbook: Runbook, terms: list[str]) -> Hit:
    texts = {"title": runbook.title, "body": runbook.body or ""}
    return Hit(
        "runbook",
        runbook.id,
        runbook.title,
        "runbook",
        *preview(runbook.body or "", terms),
        _score(texts, terms),
        slug=runbook.slug,
    )


def preview(text: str, terms: list[str]) -> tuple[str, tuple[int, int] | None]:
    """A window of the text around the first matched word, and where that word is in it."""
    flat = " ".join(text.split())
    lowered = flat.lower()
    found = [(lowered.find(t), t) for t in terms if t in lowered]
    if not found:
        clipped = flat[:PREVIEW_CHARS] + ("…" if len(flat) > PREVIEW_CHARS else "")
        return clipped, None
    at, term = min(found)
    start = max(0, at - PREVIEW_CHARS // 3)
    end = min(len(flat), start + PREVIEW_CHARS)
    lead = "…" if start else ""
    window = lead + flat[start:end] + ("…" if end < len(flat) else "")
    offset = len(lead) + at - start
    return window, (offset, offset + len(term))
