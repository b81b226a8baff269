"""Enrichment: what OpsWatch adds to an alert before storing it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from opswatch.alerts.normalize import NormalizedEvent, map_severity
from opswatch.knowledge.matching import Matcher, Rule
from opswatch.knowledge.runbooks import RunbookIndex
from opswatch.models import EscalationPolicy, Roster, Service, Severity, Tenant
from opswatch.rosters.plans import load_plans
from opswatch.rosters.resolve import Plan, holding_at


@dataclass(frozen=True)
class Enrichment:
    severity: Severity
    service_id: uuid.UUID | None
    runbook_url: str | None
    oncall_user_id: uuid.UUID | None = None  # on call for the service's roster
    escalation_policy_id: uuid.UUID | None = None  # escalates from tier 1 when it opens
    posts_to_slack: bool = False  # the tenant has a Slack workspace: a message is due
    known_solution_id: uuid.UUID | None = None  # the knowledge entry that solves it


# Overrides are loaded for this long ahead: a kept configuration answers who is on
# call at any moment inside it (rotations are arithmetic; overrides are listed).
PLAN_WINDOW = timedelta(minutes=10)
MAX_KEPT = 1_000


@dataclass(frozen=True)
class TenantConfig:
    """What enrichment reads of a tenant's configuration, kept per process.

    Loading it is several queries; a worker at 200 alerts/s processes about a
    hundred batches a second, so it is loaded again only when the tenant's
    ``config_version`` moved (database triggers bump it in the same transaction
    as any change to what is read here) or when ``at`` leaves the window its
    overrides were loaded for.
    """

    key: tuple[uuid.UUID, datetime, int]  # tenant, its creation, config_version
    loaded_for: tuple[datetime, datetime]
    services: list[Service]
    plans: Mapping[uuid.UUID, Plan]  # by roster id, for the services' rosters
    policies: list[EscalationPolicy]
    rules: list[Rule]
    has_solutions: bool
    runbooks: RunbookIndex

    @classmethod
    async def current(cls, tenant: Tenant, at: datetime) -> TenantConfig:
        # created_at too: a test database recreated with the same tenant id and
        # version must not be served what an earlier one held.
        key = (tenant.id, tenant.created_at, tenant.config_version)
        kept = _kept.get(tenant.id)
        if kept is not None and kept.key == key and kept.loaded_for[0] <= at < kept.loaded_for[1]:
            return kept
        config = await cls._load(tenant, key, at)
        if len(_kept) >= MAX_KEPT:
            _kept.clear()
        _kept[tenant.id] = config
        return config

    @classmethod
    async def _load(
        cls, tenant: Tenant, key: tuple[uuid.UUID, datetime, int], at: datetime
    ) -> TenantConfig:
        services = await Service.filter(tenant=tenant).limit(10_000)
        roster_ids = {s.roster_id for s in services if s.roster_id}  # type: ignore[attr-defined]
        plans: dict[uuid.UUID, Plan] = {}
        if roster_ids:
            rosters = await Roster.filter(id__in=roster_ids, tenant=tenant)
            plans = await load_plans(rosters, at, at + PLAN_WINDOW)
        rules, has_solutions = await Matcher.load_rules(tenant)
        return cls(
            key=key,
            loaded_for=(at, at + PLAN_WINDOW),
            services=list(services),
            plans=plans,
            policies=list(await EscalationPolicy.filter(tenant=tenant).limit(1_000)),
            rules=rules,
            has_solutions=has_solutions,
            runbooks=await RunbookIndex.for_tenant(tenant),
        )


_kept: dict[uuid.UUID, TenantConfig] = {}


class Enricher:
    """Built once per batch and tenant, so enrichment adds no query per event."""

    def __init__(
        self,
        tenant: Tenant,
        services: Sequence[Service],
        oncall: Mapping[uuid.UUID, uuid.UUID | None] | None = None,
        policies: Sequence[EscalationPolicy] = (),
        matcher: Matcher | None = None,
        runbooks: RunbookIndex | None = None,
    ) -> None:
        self.severity_mapping: dict[str, str] = dict(tenant.settings.get("severity_mapping") or {})
        self.services = list(services)
        self.oncall = dict(oncall or {})  # roster id -> who holds its pager now
        self.policies = {p.id: p for p in policies}
        self.default_policy = next((p for p in policies if p.is_default), None)
        self.posts_to_slack = tenant.slack_team_id is not None
        self.matcher = matcher or Matcher(tenant.id, [], has_solutions=False)
        self.runbooks = runbooks or RunbookIndex.empty(tenant.id)

    @classmethod
    async def for_tenant(cls, tenant: Tenant, at: datetime) -> Enricher:
        """The enricher for one batch; ``tenant`` as just read, so that its
        ``config_version`` says whether the configuration kept here is current."""
        config = await TenantConfig.current(tenant, at)
        oncall = {rid: holding_at(plan, at).user_id for rid, plan in config.plans.items()}
        return cls(
            tenant,
            config.services,
            oncall,
            config.policies,
            Matcher(tenant.id, config.rules, config.has_solutions),
            config.runbooks,
        )

    async def prepare(self, events: Sequence[NormalizedEvent]) -> None:
        """What enrichment needs beyond the tenant's own rows: similar knowledge."""
        await self.matcher.prepare([(e.title, e.labels) for e in events])

    def enrich(self, event: NormalizedEvent) -> Enrichment:
        service = self.match_service(event.labels)
        roster_id = service.roster_id if service else None  # type: ignore[attr-defined]
        severity = map_severity(event.severity_label, self.severity_mapping)
        return Enrichment(
            severity=severity,
            service_id=service.id if service else None,
            # The sender's own runbook link wins over ours.
            runbook_url=event.runbook_url
            or self.runbooks.url_for_alert(
                event.title, event.labels, service.id if service else None
            ),
            oncall_user_id=self.oncall.get(roster_id) if roster_id else None,
            escalation_policy_id=self.policy_for(service, severity),
            posts_to_slack=self.posts_to_slack,
            known_solution_id=self.matcher.match(event.title, event.labels),
        )

    def policy_for(self, service: Service | None, severity: Severity) -> uuid.UUID | None:
        """The service's policy, else the tenant default; none below its minimum severity."""
        policy_id = service.escalation_policy_id if service else None  # type: ignore[attr-defined]
        policy = self.policies.get(policy_id) if policy_id else self.default_policy
        if policy is None:
            return None
        minimum = policy.minimum_severity
        if minimum is not None and severity.rank < Severity(minimum).rank:
            return None
        return policy.id

    def match_service(self, labels: dict[str, str]) -> Service | None:
        """Most specific first: cluster and namespace, then namespace alone, then
        cluster alone, then a ``service`` label naming the service."""
        cluster, namespace = labels.get("cluster"), labels.get("namespace")
        for service in self.services:
            exact = service.cluster and service.cluster == cluster
            if exact and service.namespace and service.namespace == namespace:
                return service
        for service in self.services:
            if not service.cluster and service.namespace and service.namespace == namespace:
                return service
        for service in self.services:
            if not service.namespace and service.cluster and service.cluster == cluster:
                return service
        named = labels.get("service")
        for service in self.services:
            if named and service.name == named:
                return service
        return None
