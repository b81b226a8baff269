"""Which service an alert belongs to: the most specific match wins."""

from __future__ import annotations

import uuid

import pytest

from opswatch.alerts.enrich import Enricher
from opswatch.models import Service, Tenant

SERVICES = [
    ("by-name", None, None),
    ("whole-cluster", "prod-de-01", None),
    ("namespace-anywhere", None, "payments"),
    ("exact", "prod-de-01", "customer-api"),
]


def enricher() -> Enricher:
    tenant = Tenant(id=uuid.uuid4(), name="t", slug="t", settings={})
    services = [
        Service(id=uuid.uuid4(), name=name, cluster=cluster, namespace=namespace)
        for name, cluster, namespace in SERVICES
    ]
    return Enricher(tenant, services)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"cluster": "prod-de-01", "namespace": "customer-api"}, "exact"),
        ({"cluster": "prod-nz-01", "namespace": "payments"}, "namespace-anywhere"),
        ({"cluster": "prod-de-01", "namespace": "payments"}, "namespace-anywhere"),
        ({"cluster": "prod-de-01", "namespace": "kube-system"}, "whole-cluster"),
        ({"cluster": "prod-de-01"}, "whole-cluster"),
        ({"service": "by-name"}, "by-name"),
        ({"cluster": "elsewhere"}, None),
    ],
)
def test_most_specific_service_wins(labels: dict[str, str], expected: str | None) -> None:
    service = enricher().match_service(labels)
    assert (service.name if service else None) == expected
