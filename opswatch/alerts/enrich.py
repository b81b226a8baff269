"""Enrichment: what OpsWatch adds to an alert before storing it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from opswatch.alerts.normalize import NormalizedEvent, map_severity
from opswatch.models import Service, Severity, Tenant


@dataclass(frozen=True)
class Enrichment:
    severity: Severity
    service_id: uuid.UUID | None
    runbook_url: str | None


class Enricher:
    """Built once per batch and tenant, so enrichment adds no query per event."""

    def __init__(self, tenant: Tenant, services: Sequence[Service]) -> None:
        self.severity_mapping: dict[str, str] = dict(tenant.settings.get("severity_mapping") or {})
        self.services = list(services)

    @classmethod
    async def for_tenant(cls, tenant: Tenant) -> Enricher:
        return cls(tenant, await Service.filter(tenant=tenant).limit(10_000))

    def enrich(self, event: NormalizedEvent) -> Enrichment:
        service = self.match_service(event.labels)
        return Enrichment(
            severity=map_severity(event.severity_label, self.severity_mapping),
            service_id=service.id if service else None,
            runbook_url=event.runbook_url,
        )

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
