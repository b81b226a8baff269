"""Searching knowledge (incidents and runbooks) by the words of a query.

The database finds the candidates with its full-text index (PostgreSQL: the
``simple`` tsvector with prefix queries; SQLite: FTS5 with prefix queries),
newest first and bounded. The ranking is then computed here, the same way on
both backends, so the same corpus gives the same results:

- a query word matches a word of the entry that starts with it ("crash" finds
  "CrashLoopBackOff"; words are runs of letters and digits, lowercased);
- each query word found scores 5, plus 3 if in the title, 2 if in the solution
  or root cause, 1 if elsewhere;
- ties go to the most recently updated entry.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opswatch.models import Incident, Runbook, Tenant
from opswatch.sql import statement

MAX_TERMS = 8
CANDIDATES = 200
PREVIEW_CHARS = 240
FOUND = 5
WEIGHTS = {"title": 3, "solution": 2, "root_cause": 2, "summary": 1, "body": 1, "tags": 1}
_WORD = re.compile(r"[^\W_]+")

# The indexed expressions of migration 0007 (PostgreSQL uses an expression index
# only for the identical expression).
INCIDENT_WORDS = (
    "coalesce(title, '') || ' ' || coalesce(summary, '') || ' ' || "
    "coalesce(root_cause, '') || ' ' || coalesce(solution, '') || ' ' || "
    "coalesce(tags::text, '')"
)
RUNBOOK_WORDS = (
    "coalesce(title, '') || ' ' || coalesce(body, '') || ' ' || "
    "coalesce(tags::text, '') || ' ' || coalesce(alertnames::text, '')"
)


@dataclass(frozen=True)
class Hit:
    kind: str  # "incident" or "runbook"
    id: uuid.UUID
    title: str
    severity: str
    preview: str  # a window of the solution (or body) around the first match
    highlight: tuple[int, int] | None  # where that match is in the preview
    score: int
    updated_at: datetime
    slug: str | None = None


def words_of(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def terms_of(query: str) -> list[str]:
    """The distinct query words, in order, at most ``MAX_TERMS``."""
    return list(dict.fromkeys(words_of(query)))[:MAX_TERMS]


async def search(tenant: Tenant, query: str, first: int = 3) -> list[Hit]:
    terms = terms_of(query)
    if not terms:
        return []
    incident_ids, runbook_ids = await candidates(tenant.id, terms)
    incidents = await Incident.filter(id__in=incident_ids, tenant=tenant)
    runbooks = await Runbook.filter(id__in=runbook_ids, tenant=tenant)
    hits = [h for i in incidents if (h := _incident_hit(i, terms)) is not None]
    hits += [h for r in runbooks if (h := _runbook_hit(r, terms)) is not None]
    hits.sort(key=lambda h: (-h.score, -h.updated_at.timestamp(), str(h.id)))
    return hits[: max(0, first)]


async def candidates(tenant_id: uuid.UUID, terms: list[str]) -> tuple[list[Any], list[Any]]:
    """Ids of the incidents and runbooks with a word starting with any of the terms,
    newest first, at most ``CANDIDATES`` of each."""
    sql = statement()
    found = []
    for table, words in (("incident", INCIDENT_WORDS), ("runbook", RUNBOOK_WORDS)):
        # Only the fixed table names and expressions above are interpolated.
        if sql.sqlite:
            source = f"{table} t JOIN {table}_fts f ON f.id = t.id"
            condition = f"{table}_fts MATCH :query"
            query = " OR ".join(f'"{t}"*' for t in terms)
        else:
            source = f"{table} t"
            condition = f"to_tsvector('simple', {words}) @@ to_tsquery('simple', :query)"
            query = " | ".join(f"{t}:*" for t in terms)
        rows = await sql.rows(
            f"SELECT t.id FROM {source} WHERE t.tenant_id = :tenant AND {condition} "  # noqa: S608
            f"ORDER BY t.updated_at DESC LIMIT {CANDIDATES}",
            tenant=tenant_id,
            query=query,
        )
        found.append([r["id"] for r in rows])
    return found[0], found[1]


def _score(texts: dict[str, str], terms: list[str]) -> int:
    words = {name: words_of(text) for name, text in texts.items()}
    score = 0
    for term in terms:
        where = [name for name, found in words.items() if any(w.startswith(term) for w in found)]
        if where:
            score += FOUND + sum(WEIGHTS[name] for name in where)
    return score


def _incident_hit(incident: Incident, terms: list[str]) -> Hit | None:
    texts = {
        "title": incident.title,
        "summary": incident.summary or "",
        "root_cause": incident.root_cause or "",
        "solution": incident.solution or "",
        "tags": " ".join(incident.tags or []),
    }
    score = _score(texts, terms)
    if not score:
        return None
    source = incident.solution or incident.root_cause or incident.summary or ""
    return Hit(
        "incident",
        incident.id,
        incident.title,
        incident.severity.value,
        *preview(source, terms),
        score,
        incident.updated_at,
    )


def _runbook_hit(runbook: Runbook, terms: list[str]) -> Hit | None:
    texts = {
        "title": runbook.title,
        "body": runbook.body or "",
        "tags": " ".join([*(runbook.tags or []), *(runbook.alertnames or [])]),
    }
    score = _score(texts, terms)
    if not score:
        return None
    return Hit(
        "runbook",
        runbook.id,
        runbook.title,
        "runbook",
        *preview(runbook.body or "", terms),
        score,
        runbook.updated_at,
        slug=runbook.slug,
    )


def preview(text: str, terms: list[str]) -> tuple[str, tuple[int, int] | None]:
    """A window of the text around the first word a term starts, and where that word is."""
    flat = " ".join(text.split())
    first = None
    for match in _WORD.finditer(flat):
        if any(match.group().lower().startswith(t) for t in terms):
            first = match
            break
    if first is None:
        clipped = flat[:PREVIEW_CHARS] + ("…" if len(flat) > PREVIEW_CHARS else "")
        return clipped, None
    start = max(0, first.start() - PREVIEW_CHARS // 3)
    end = min(len(flat), start + PREVIEW_CHARS)
    lead = "…" if start else ""
    window = lead + flat[start:end] + ("…" if end < len(flat) else "")
    offset = len(lead) + first.start() - start
    return window, (offset, offset + len(first.group()))
