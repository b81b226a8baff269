"""Runbooks: written by admins over GraphQL, read on a signed page that renders their
markdown safely, and linked from the alerts they cover (the View Runbook button)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tortoise import connections

from opswatch.alerts.enrich import Enricher
from opswatch.alerts.normalize import parse_alertmanager
from opswatch.audit.actor import Actor
from opswatch.knowledge.runbooks import RunbookSpec, create_runbook, runbook_url
from opswatch.models import AuditLog, Role, Runbook, Service, Tenant
from opswatch.queue.inprocess import InProcessQueue
from opswatch.runtime import Runtime
from opswatch.tenants.services import create_service
from opswatch.tenants.users import create_user
from tests.alerts.payloads import alertmanager_body
from tests.factories import TenantKit, graphql

ACTOR = Actor.system("test")
FIELDS = "id slug title body tags alertnames services { name } url updatedAt"
CREATE = f"""
mutation($input: RunbookInput!) {{ createRunbook(input: $input) {{ {FIELDS} }} }}
"""
UPDATE = f"""
mutation($id: ID!, $input: RunbookUpdate!) {{
  updateRunbook(id: $id, input: $input) {{ {FIELDS} }}
}}
"""
DELETE = "mutation($id: ID!) { deleteRunbook(id: $id) }"
ONE = f"query($slug: String!) {{ runbook(slug: $slug) {{ {FIELDS} }} }}"
ALL = "{ runbooks { slug title } }"

CRASHLOOP_BODY = """# Pod CrashLoopBackOff

1. Look at the last logs:

   ```
   kubectl logs --previous -n customer-api payment-gateway
   ```

2. If it was an **OOM kill**, raise the memory limit.

- one
- two
"""


def runbook_input(**changes: Any) -> dict[str, Any]:
    return {
        "title": "Pod CrashLoopBackOff",
        "slug": "pod-crashloop",
        "body": CRASHLOOP_BODY,
        "tags": ["kubernetes", "pods"],
        "alertnames": ["PodCrashLoopBackOff"],
        **changes,
    }


async def created(client: httpx.AsyncClient, kit: TenantKit, **changes: Any) -> dict[str, Any]:
    body = await graphql(client, kit.admin_token, CREATE, input=runbook_input(**changes))
    assert "errors" not in body, body
    runbook: dict[str, Any] = body["data"]["createRunbook"]
    return runbook


def page_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def runbook_actions() -> list[str]:
    rows = await AuditLog.filter(action__startswith="runbook.").order_by("created_at")
    return [row.action for row in rows]


async def linked_services() -> int:
    rows = await connections.get("default").execute_query_dict(
        "SELECT count(*) AS n FROM runbook_service"
    )
    return int(rows[0]["n"])


async def test_admins_create_update_and_delete_runbooks(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    api = await create_service(tenant=acme.tenant, name="api", actor=ACTOR)
    web = await create_service(tenant=acme.tenant, name="web", actor=ACTOR)
    runbook = await created(client, acme, serviceIds=[str(web.id), str(api.id)])
    assert runbook["slug"] == "pod-crashloop"
    assert runbook["body"] == CRASHLOOP_BODY
    assert runbook["tags"] == ["kubernetes", "pods"]
    assert runbook["alertnames"] == ["PodCrashLoopBackOff"]
    assert runbook["services"] == [{"name": "api"}, {"name": "web"}]
    assert runbook["url"] == runbook_url(acme.tenant.id, "pod-crashloop")
    assert runbook["url"].startswith("http://opswatch.test/runbooks/pod-crashloop?t=")
    await created(client, acme, title="Disk full", slug="disk-full", alertnames=[])

    listed = await graphql(client, acme.viewer_token, ALL)
    assert [r["title"] for r in listed["data"]["runbooks"]] == [
        "Disk full",
        "Pod CrashLoopBackOff",
    ]
    one = await graphql(client, acme.viewer_token, ONE, slug="pod-crashloop")
    assert one["data"]["runbook"] == runbook

    updated = await graphql(
        client,
        acme.admin_token,
        UPDATE,
        id=runbook["id"],
        input=runbook_input(
            title="Pods restarting",
            slug="pods-restarting",
            tags=["kubernetes"],
            serviceIds=[str(api.id)],
        ),
    )
    after = updated["data"]["updateRunbook"]
    assert after["id"] == runbook["id"]
    assert (after["title"], after["slug"], after["tags"]) == (
        "Pods restarting",
        "pods-restarting",
        ["kubernetes"],
    )
    assert after["services"] == [{"name": "api"}]
    assert after["url"] == runbook_url(acme.tenant.id, "pods-restarting")
    assert after["updatedAt"] >= runbook["updatedAt"]
    gone = await graphql(client, acme.viewer_token, ONE, slug="pod-crashloop")
    assert gone["data"]["runbook"] is None

    entry = await AuditLog.get(action="runbook.updated")
    assert entry.target_id == runbook["id"]
    assert entry.data["before"] == {
        "title": "Pod CrashLoopBackOff",
        "slug": "pod-crashloop",
        "tags": ["kubernetes", "pods"],
        "service_ids": sorted([str(api.id), str(web.id)]),
    }
    assert entry.data["after"] == {
        "title": "Pods restarting",
        "slug": "pods-restarting",
        "tags": ["kubernetes"],
        "service_ids": [str(api.id)],
    }

    deleted = await graphql(client, acme.admin_token, DELETE, id=runbook["id"])
    assert deleted["data"]["deleteRunbook"] == runbook["id"]
    assert await Runbook.filter(tenant=acme.tenant).values_list("slug", flat=True) == ["disk-full"]
    assert await linked_services() == 0
    assert await Service.filter(tenant=acme.tenant).count() == 2  # services stay
    assert await runbook_actions() == [
        "runbook.created",
        "runbook.created",
        "runbook.updated",
        "runbook.deleted",
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "  "}, "title"),
        ({"title": "t" * 501}, "title"),
        ({"slug": ""}, "slug"),
        ({"slug": "Pod CrashLoop"}, "slug"),
        ({"slug": "pod_crashloop"}, "slug"),
        ({"body": "x" * 200_001}, "body"),
        ({"tags": [f"t{i}" for i in range(51)]}, "tags"),
        ({"tags": ["ok", " "]}, "tags[1]"),
        ({"tags": ["t" * 201]}, "tags[0]"),
        ({"alertnames": [f"A{i}" for i in range(51)]}, "alertnames"),
        ({"alertnames": [""]}, "alertnames[0]"),
        ({"serviceIds": ["not-an-id"]}, "serviceIds"),
        ({"serviceIds": ["00000000-0000-0000-0000-000000000000"]}, "serviceIds"),
    ],
)
async def test_bad_runbooks_name_the_field_and_change_nothing(
    client: httpx.AsyncClient, acme: TenantKit, changes: dict[str, Any], field: str
) -> None:
    body = await graphql(client, acme.admin_token, CREATE, input=runbook_input(**changes))
    assert body["errors"][0]["extensions"]["field"] == field
    assert await Runbook.all().count() == 0

    runbook = await created(client, acme)
    body = await graphql(
        client, acme.admin_token, UPDATE, id=runbook["id"], input=runbook_input(**changes)
    )
    assert body["errors"][0]["extensions"]["field"] == field
    one = await graphql(client, acme.viewer_token, ONE, slug="pod-crashloop")
    assert one["data"]["runbook"] == runbook
    assert await runbook_actions() == ["runbook.created"]


async def test_a_slug_is_unique_within_a_tenant_only(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    first = await created(client, acme)
    clash = await graphql(client, acme.admin_token, CREATE, input=runbook_input(title="Another"))
    assert clash["errors"][0]["extensions"] == {"code": "CONFLICT", "field": "slug"}
    other = await created(client, acme, slug="other")
    renamed = await graphql(client, acme.admin_token, UPDATE, id=other["id"], input=runbook_input())
    assert renamed["errors"][0]["extensions"] == {"code": "CONFLICT", "field": "slug"}
    assert (await Runbook.get(id=other["id"])).slug == "other"
    theirs = await created(client, globex)
    assert theirs["slug"] == first["slug"]
    assert theirs["url"] != first["url"]  # the link names the tenant


async def test_only_admins_write_runbooks_and_everyone_in_the_tenant_reads_them(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    responder = await create_user(
        tenant=acme.tenant,
        name="Pat",
        email="pat@acme.example",
        role=Role.RESPONDER,
        actor=ACTOR,
    )
    runbook = await created(client, acme)
    for token in (responder.token, acme.viewer_token):
        assert token is not None
        attempts = [
            await graphql(client, token, CREATE, input=runbook_input(slug="mine")),
            await graphql(
                client, token, UPDATE, id=runbook["id"], input=runbook_input(title="Mine")
            ),
            await graphql(client, token, DELETE, id=runbook["id"]),
        ]
        assert [a["errors"][0]["extensions"]["code"] for a in attempts] == ["FORBIDDEN"] * 3
        listed = await graphql(client, token, ALL)
        assert listed["data"]["runbooks"] == [{"slug": "pod-crashloop", "title": runbook["title"]}]
    assert await runbook_actions() == ["runbook.created"]
    anonymous = await graphql(client, None, ALL)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_another_tenants_runbook_is_not_found(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    theirs = await create_service(tenant=globex.tenant, name="billing", actor=ACTOR)
    runbook = await created(client, acme)
    for attempt in (
        await graphql(client, globex.admin_token, UPDATE, id=runbook["id"], input=runbook_input()),
        await graphql(client, globex.admin_token, DELETE, id=runbook["id"]),
    ):
        assert attempt["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "id"}
    looked_up = await graphql(client, globex.admin_token, ONE, slug="pod-crashloop")
    assert looked_up["data"]["runbook"] is None
    assert (await graphql(client, globex.admin_token, ALL))["data"]["runbooks"] == []
    foreign_service = await graphql(
        client,
        acme.admin_token,
        UPDATE,
        id=runbook["id"],
        input=runbook_input(serviceIds=[str(theirs.id)]),
    )
    assert foreign_service["errors"][0]["extensions"]["field"] == "serviceIds"
    assert await Runbook.filter(tenant=acme.tenant).count() == 1


class Elements(HTMLParser):
    """Every element the page's HTML really contains, with its attributes."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


async def test_the_page_renders_markdown_with_what_the_runbook_covers(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    await create_service(tenant=acme.tenant, name="payment-gateway", actor=ACTOR)
    service = await Service.get(name="payment-gateway")
    runbook = await created(
        client, acme, serviceIds=[str(service.id)], body=CRASHLOOP_BODY + "\n[docs](https://k8s.io)"
    )
    response = await client.get(page_path(runbook["url"]))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    page = Elements(response.text)
    assert "Pod CrashLoopBackOff" in response.text
    assert len(page.named("h1")) == 2  # the page's title and the body's heading
    assert len(page.named("ol")) == 1
    assert len(page.named("li")) == 4
    assert "kubectl logs --previous -n customer-api payment-gateway" in response.text
    assert len(page.named("pre")) == 1
    assert len(page.named("strong")) == 1
    assert {"href": "https://k8s.io"} in page.named("a")
    for shown in ("PodCrashLoopBackOff", "payment-gateway", "kubernetes", "pods", "Updated"):
        assert shown in response.text
    assert not page.named("script")

    await graphql(
        client,
        acme.admin_token,
        UPDATE,
        id=runbook["id"],
        input=runbook_input(body="## Rewritten\n\nNew steps."),
    )
    again = await client.get(page_path(runbook["url"]))
    assert "<h2>Rewritten</h2>" in again.text
    assert "kubectl" not in again.text


HOSTILE = """# Totally normal runbook

<script>alert(1)</script>

<img src=x onerror=alert(1)>

[click](javascript:alert(1)) and [again](JAVASCRIPT:alert(2)) and [vb](vbscript:msgbox(1))

[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)
![pixel](data:image/png;base64,iVBORw0KGgo=)

<javascript:alert(3)>

Inline <a href="javascript:alert(4)">raw link</a> and <b onmouseover="alert(5)">bold</b>.

<iframe src="https://evil.example"></iframe>
"""


async def test_hostile_markdown_is_shown_as_text_never_run(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    runbook = await created(client, acme, body=HOSTILE, title="<script>alert(6)</script>")
    response = await client.get(page_path(runbook["url"]))
    assert response.status_code == 200
    assert "default-src 'none'" in response.headers["content-security-policy"]
    text = response.text
    for raw in ("<script", "<img", "<iframe", "<b ", '<a href="javascript'):
        assert raw not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    page = Elements(text)
    assert {tag for tag, _ in page.tags} <= {
        "html", "head", "meta", "title", "style", "body", "main", "header", "p", "span",
        "time", "hr", "h1", "a",
    }  # fmt: skip
    for _, attrs in page.tags:
        assert not any(name.startswith("on") for name in attrs)
        for value in attrs.values():
            assert not (value or "").strip().lower().startswith(("javascript", "vbscript", "data"))
    assert page.named("a") == []  # not one of the hostile links became a link


async def test_unsigned_forged_and_foreign_links_are_refused(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    runbook = await created(client, acme)
    other = await created(client, acme, slug="other")
    query = parse_qs(urlsplit(runbook["url"]).query)
    tenant, signature = query["t"][0], query["sig"][0]
    altered = signature[:-1] + ("B" if signature.endswith("A") else "A")
    other_signature = parse_qs(urlsplit(other["url"]).query)["sig"][0]
    refused = [
        "/runbooks/pod-crashloop",
        f"/runbooks/pod-crashloop?t={tenant}",
        f"/runbooks/pod-crashloop?sig={signature}",
        f"/runbooks/pod-crashloop?t={tenant}&sig=forged",
        f"/runbooks/pod-crashloop?t={tenant}&sig={altered}",
        f"/runbooks/pod-crashloop?t={tenant}&sig={other_signature}",  # another slug's
        f"/runbooks/pod-crashloop?t={globex.tenant.id}&sig={signature}",  # another tenant's
        f"/runbooks/pod-crashloop?t=not-a-uuid&sig={signature}",
    ]
    for path in refused:
        response = await client.get(path)
        assert response.status_code == 403, path
        assert "CrashLoop" not in response.text
        assert "default-src 'none'" in response.headers["content-security-policy"]

    await graphql(client, acme.admin_token, DELETE, id=runbook["id"])
    missing = await client.get(page_path(runbook["url"]))
    assert missing.status_code == 404
    assert (await client.get(page_path(other["url"]))).status_code == 200


ALERTS = "{ alerts(first: 10) { nodes { title runbookUrl service { name } } } }"


def firing(alertname: str, *, fingerprint: str, annotated: bool) -> dict[str, Any]:
    payload = alertmanager_body()
    alert = payload["alerts"][0]
    alert["labels"]["alertname"] = alertname
    alert["annotations"]["summary"] = alertname
    alert["fingerprint"] = fingerprint
    if not annotated:
        del alert["annotations"]["runbook_url"]
    return payload


async def fire(
    client: httpx.AsyncClient, kit: TenantKit, app_runtime: Runtime, *payloads: dict[str, Any]
) -> None:
    merged = copy.deepcopy(payloads[0])
    merged["alerts"] = [alert for payload in payloads for alert in payload["alerts"]]
    response = await client.post(
        "/api/v1/webhooks/alertmanager", json=merged, headers={"X-API-Key": kit.api_key}
    )
    assert response.status_code == 202, response.text
    assert isinstance(app_runtime.queue, InProcessQueue)
    await app_runtime.queue.drain()


async def test_alerts_link_the_runbook_that_covers_them_unless_they_bring_their_own(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit, app_runtime: Runtime
) -> None:
    gateway = await create_service(
        tenant=acme.tenant,
        name="payment-gateway",
        cluster="production-de-01",
        namespace="customer-api",
        actor=ACTOR,
    )
    crashloop = await created(client, acme)
    by_service = await created(
        client, acme, slug="payment-gateway", alertnames=[], serviceIds=[str(gateway.id)]
    )
    await created(client, globex, alertnames=["DiskFull"])  # another tenant's: never used
    await fire(
        client,
        acme,
        app_runtime,
        firing("PodCrashLoopBackOff", fingerprint="no-annotation", annotated=False),
        firing("HighLatency", fingerprint="service-only", annotated=False),
        firing("PodCrashLoopBackOff", fingerprint="annotated", annotated=True),
    )
    alerts = (await graphql(client, acme.viewer_token, ALERTS))["data"]["alerts"]["nodes"]
    urls = sorted((a["title"], a["runbookUrl"]) for a in alerts)
    assert urls == sorted(
        [
            ("PodCrashLoopBackOff", crashloop["url"]),
            ("HighLatency", by_service["url"]),
            ("PodCrashLoopBackOff", "https://runbooks.example.com/pod-crashloop"),
        ]
    )
    opened = await client.get(page_path(crashloop["url"]))
    assert opened.status_code == 200
    assert "Pod CrashLoopBackOff" in opened.text

    await create_service(tenant=globex.tenant, name="disk", actor=ACTOR)
    await fire(
        client,
        globex,
        app_runtime,
        firing("PodCrashLoopBackOff", fingerprint="globex", annotated=False),
    )
    theirs = (await graphql(client, globex.viewer_token, ALERTS))["data"]["alerts"]["nodes"]
    assert [a["runbookUrl"] for a in theirs] == [None]


async def test_enrichment_loads_runbooks_in_a_constant_number_of_queries(
    acme: TenantKit, app_runtime: Runtime, query_count: list[str]
) -> None:
    service = await create_service(
        tenant=acme.tenant, name="api", namespace="customer-api", actor=ACTOR
    )

    async def add_runbooks(numbers: range) -> None:
        for i in numbers:
            await create_runbook(
                tenant=acme.tenant,
                spec=RunbookSpec(
                    title=f"Runbook {i}",
                    slug=f"runbook-{i}",
                    alertnames=[f"Alert{i}"],
                    service_ids=[str(service.id)] if i % 3 == 0 else [],
                ),
                actor=ACTOR,
            )

    async def cost_of_loading() -> tuple[int, Enricher]:
        tenant = await Tenant.get(id=acme.tenant.id)  # as the pipeline reads it, per batch
        query_count.clear()
        enricher = await Enricher.for_tenant(tenant, datetime.now(UTC))
        return len(query_count), enricher

    await add_runbooks(range(1))
    cost_of_1, _ = await cost_of_loading()
    await add_runbooks(range(1, 60))
    cost_of_60, enricher = await cost_of_loading()
    assert 0 < cost_of_60 == cost_of_1

    events = parse_alertmanager(
        {
            **alertmanager_body(),
            "alerts": [
                firing(name, fingerprint=name, annotated=False)["alerts"][0]
                for name in ("Alert7", "Alert30", "Unknown")
            ],
        }
    )
    query_count.clear()
    urls = [enricher.enrich(event).runbook_url for event in events]
    assert query_count == []
    assert urls == [
        runbook_url(acme.tenant.id, "runbook-7"),
        runbook_url(acme.tenant.id, "runbook-30"),
        # No runbook names it: the newest of its service's runbooks.
        runbook_url(acme.tenant.id, "runbook-57"),
    ]
