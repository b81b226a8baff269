"""Which knowledge entry is an alert's Known Solution.

1. Matching rules first: an entry whose rule names the alert's ``alertname``
   (or, without an ``alertname`` label, its title) and whose label selectors
   all hold. The most specific rule wins (most selectors), then the newest.
2. Else full-text similarity: among the entries the search index finds for the
   alert's title, the one whose title shares the most words with it, if at
   least ``SIMILARITY`` of their words (Jaccard) are shared.

Only entries with a solution count: a Known Solution that says nothing would
waste the responder's time. The same matcher decides, on resolve, whether an
alert was a "new issue" (spec 1.4).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from opswatch.knowledge.search import candidates, words_of
from opswatch.models import Incident, Tenant

MAX_RULES = 1_000
SIMILARITY = 0.6
# Distinct titles looked up by similarity per pipeline batch; a storm of new,
# different titles is matched by rules alone past this.
MAX_SIMILAR_PER_BATCH = 20
CACHE_SECONDS = 30.0
_cache: dict[tuple[uuid.UUID, str], tuple[float, uuid.UUID | None]] = {}


@dataclass(frozen=True)
class Rule:
    incident_id: uuid.UUID
    alertname: str | None
    labels: dict[str, str]
    updated_at: datetime

    @classmethod
    def of(cls, incident: Incident) -> Rule | None:
        rule = incident.match_rule or {}
        alertname = rule.get("alertname")
        labels = {str(k): str(v) for k, v in (rule.get("labels") or {}).items()}
        if not alertname and not labels:
            return None
        return cls(incident.id, str(alertname) if alertname else None, labels, incident.updated_at)

    def matches(self, alertname: str, labels: dict[str, Any]) -> bool:
        if self.alertname is not None and self.alertname != alertname:
            return False
        return all(str(labels.get(k)) == v for k, v in self.labels.items())

    @property
    def rank(self) -> tuple[int, float]:
        return (len(self.labels) + (1 if self.alertname else 0), self.updated_at.timestamp())


def alertname_of(title: str, labels: dict[str, Any]) -> str:
    return str(labels.get("alertname") or title)


class Matcher:
    """A tenant's rules, loaded once per batch, and the similarity answers found."""

    def __init__(self, tenant_id: uuid.UUID, rules: list[Rule], has_solutions: bool) -> None:
        self.tenant_id = tenant_id
        self.rules = sorted(rules, key=lambda r: r.rank, reverse=True)
        self.has_solutions = has_solutions
        self.similar: dict[str, uuid.UUID | None] = {}

    @classmethod
    async def for_tenant(
        cls, tenant: Tenant, connection: BaseDBAsyncClient | None = None
    ) -> Matcher:
        return cls(tenant.id, *await cls.load_rules(tenant, connection))

    @staticmethod
    async def load_rules(
        tenant: Tenant, connection: BaseDBAsyncClient | None = None
    ) -> tuple[list[Rule], bool]:
        """The tenant's matching rules, and whether it has any solved entry at all."""
        solved = Incident.filter(tenant=tenant, solution__isnull=False)
        if connection is not None:
            solved = solved.using_db(connection)
        with_rules = (
            await solved.filter(match_rule__isnull=False).order_by("-updated_at").limit(MAX_RULES)
        )
        rules = [r for i in with_rules if (r := Rule.of(i)) is not None]
        return rules, bool(rules) or await solved.exists()

    def by_rule(self, title: str, labels: dict[str, Any]) -> uuid.UUID | None:
        alertname = alertname_of(title, labels)
        for rule in self.rules:
            if rule.matches(alertname, labels):
                return rule.incident_id
        return None

    async def prepare(self, titles_and_labels: list[tuple[str, dict[str, Any]]]) -> None:
        """Look up by similarity the titles no rule matches (bounded per batch)."""
        if not self.has_solutions:
            return
        pending = [
            title
            for title, labels in titles_and_labels
            if title not in self.similar and self.by_rule(title, labels) is None
        ]
        for title in list(dict.fromkeys(pending))[:MAX_SIMILAR_PER_BATCH]:
            self.similar[title] = await similar_to(self.tenant_id, title)

    def match(self, title: str, labels: dict[str, Any]) -> uuid.UUID | None:
        return self.by_rule(title, labels) or self.similar.get(title)


async def similar_to(tenant_id: uuid.UUID, title: str) -> uuid.UUID | None:
    key = (tenant_id, title)
    cached = _cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    found = await _most_similar(tenant_id, title)
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[key] = (time.monotonic(), found)
    return found


async def _most_similar(tenant_id: uuid.UUID, title: str) -> uuid.UUID | None:
    mine = set(words_of(title))
    if not mine:
        return None
    incident_ids, _ = await candidates(tenant_id, sorted(mine))
    best: tuple[float, float, uuid.UUID] | None = None
    for incident in await Incident.filter(
        id__in=incident_ids, tenant_id=tenant_id, solution__isnull=False
    ):
        theirs = set(words_of(incident.title))
        score = len(mine & theirs) / len(mine | theirs)
        if score >= SIMILARITY:
            ranked = (score, incident.updated_at.timestamp(), incident.id)
            if best is None or ranked[:2] > best[:2]:
                best = ranked
    return best[2] if best else None


def forget(tenant_id: uuid.UUID) -> None:
    """Knowledge changed: similarity answers cached in this process are stale."""
    for key in [k for k in _cache if k[0] == tenant_id]:
        del _cache[key]


async def known_solution(tenant: Tenant, title: str, labels: dict[str, Any]) -> uuid.UUID | None:
    """The Known Solution for one alert (the resolve-time "new issue" check)."""
    matcher = await Matcher.for_tenant(tenant)
    return matcher.by_rule(title, labels) or (
        await similar_to(tenant.id, title) if matcher.has_solutions else None
    )
