"""The incident page: a search hit's link, read-only, opened by a signed link, no login;
everything people or monitoring wrote on it is shown as text, never run."""

from __future__ import annotations

import copy
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from opswatch.audit.actor import Actor
from opswatch.http.incidents import MAX_UPDATES
from opswatch.knowledge.entries import EntrySpec, create_entry
from opswatch.knowledge.incidents import incident_url, resolve
from opswatch.models import Alert, Incident, IncidentStatus, IncidentUpdate, User
from opswatch.queue.inprocess import InProcessQueue
from opswatch.runtime import Runtime
from tests.alerts.payloads import alertmanager_body
from tests.factories import TenantKit, graphql
from tests.knowledge.test_runbooks import Elements, created, page_path

ACTOR = Actor.system("test")
SEARCH = "query($q: String!) { searchKnowledgeBase(query: $q, first: 5) { kind title link } }"


async def entry(kit: TenantKit, **changes: Any) -> Incident:
    spec: dict[str, Any] = {
        "title": "Payment gateway crash-looping",
        "severity": "critical",
        "summary": "Pods restarted every minute.\nCheckout failed for 15 minutes.",
        "root_cause": "The new release needed more memory than its limit.",
        "solution": "Raised the memory limit to 512Mi.\nRolled the deployment.",
        "tags": ["kubernetes", "payments"],
        "match_rule": "alertname=PodCrashLoopBackOff, namespace=customer-api",
        **changes,
    }
    return await create_entry(
        tenant=kit.tenant, spec=EntrySpec(**spec), author=kit.admin, actor=ACTOR
    )


async def link_alerts(
    client: httpx.AsyncClient,
    kit: TenantKit,
    app_runtime: Runtime,
    incident: Incident,
    titles: list[str],
) -> None:
    """Alerts sent by monitoring (titled by their summary), linked to the incident."""
    payload = alertmanager_body()
    template = payload["alerts"][0]
    payload["alerts"] = []
    for number, title in enumerate(titles):
        alert = copy.deepcopy(template)
        alert["labels"]["alertname"] = f"Alert{number}"
        alert["annotations"]["summary"] = title
        alert["fingerprint"] = f"fingerprint-{number}"
        payload["alerts"].append(alert)
    response = await client.post(
        "/api/v1/webhooks/alertmanager", json=payload, headers={"X-API-Key": kit.api_key}
    )
    assert response.status_code == 202, response.text
    assert isinstance(app_runtime.queue, InProcessQueue)
    await app_runtime.queue.drain()
    await Alert.filter(tenant=kit.tenant).update(incident_id=incident.id)


def signature_of(url: str) -> tuple[str, str]:
    query = parse_qs(urlsplit(url).query)
    return query["t"][0], query["sig"][0]


async def test_the_page_shows_the_incident_its_alerts_and_its_timeline(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    incident = await entry(acme, status=IncidentStatus.INVESTIGATING)
    await link_alerts(client, acme, app_runtime, incident, ["Pod is in CrashLoopBackOff"])
    await IncidentUpdate.create(
        tenant=acme.tenant, incident=incident, author=None, kind="note", text="Paged the team"
    )
    url = incident_url(acme.tenant.id, incident.id)
    assert url.startswith(f"http://opswatch.test/incidents/{incident.id}?t={acme.tenant.id}&sig=")

    response = await client.get(page_path(url))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "style-src 'unsafe-inline'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "private, no-cache"
    text = response.text
    for shown in (
        "<h1>Payment gateway crash-looping</h1>",
        "critical",
        "investigating",
        "manual",
        "kubernetes",
        "payments",
        "alertname=PodCrashLoopBackOff, namespace=customer-api",
        "Pods restarted every minute.<br>Checkout failed for 15 minutes.",
        "The new release needed more memory than its limit.",
        "Raised the memory limit to 512Mi.<br>Rolled the deployment.",
        "Pod is in CrashLoopBackOff",
        "firing",
        "Created from test",
        "Acme Admin",  # the author of the "created" entry
        "Paged the team",
    ):
        assert shown in text, shown
    alert = await Alert.get(tenant=acme.tenant)
    assert f"<code>{alert.short_id}</code>" in text
    assert "Missing knowledge" not in text
    page = Elements(text)
    assert not page.named("script")
    assert len(page.named("tr")) == 1 + 1 + 1 + 2  # alerts and timeline, with their headings
    assert text.index("Created from test") < text.index("Paged the team")  # oldest first


async def test_an_incident_resolved_without_knowledge_says_so(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    incident = await entry(acme, root_cause=None, solution=None, match_rule=None, tags=[])
    response = await client.get(page_path(incident_url(acme.tenant.id, incident.id)))
    assert response.status_code == 200
    assert "Missing knowledge" in response.text
    assert "Not recorded." in response.text
    assert "No linked alerts." in response.text
    assert "Known Solution" not in response.text
    assert "Tags:" not in response.text


HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    '"><svg onload=alert(3)>',
]


async def test_hostile_text_is_shown_escaped_never_run(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    incident = await entry(
        acme,
        title="<script>alert(1)</script> outage",
        summary="\n".join(HOSTILE),
        status=IncidentStatus.OPEN,
        root_cause=None,
        solution=None,
        tags=["<b onmouseover=alert(4)>tag</b>"],
        match_rule="alertname=<script>x</script>",
    )
    await resolve(
        incident=incident,
        root_cause="<img src=x onerror=alert(5)>",
        solution="<script>alert(6)</script>\n<a href='javascript:alert(7)'>fix</a>",
        user=acme.admin,
        actor=ACTOR,
    )
    await IncidentUpdate.create(
        tenant=acme.tenant,
        incident=incident,
        author=acme.viewer,
        kind="<i>note</i>",
        text="<iframe src='https://evil.example'></iframe>",
    )
    await link_alerts(client, acme, app_runtime, incident, ["<img src=x onerror=alert(8)>"])
    await User.filter(id=acme.admin.id).update(name="<script>alert(9)</script>")

    response = await client.get(page_path(incident_url(acme.tenant.id, incident.id)))
    assert response.status_code == 200
    text = response.text
    for raw in ("<script", "<img", "<iframe", "<svg", "<b ", "<i>", "<a "):
        assert raw not in text.lower(), raw
    for escaped in (
        "&lt;script&gt;alert(1)&lt;/script&gt; outage",
        "&lt;img src=x onerror=alert(2)&gt;",
        "&lt;img src=x onerror=alert(5)&gt;",  # root cause, and again in the timeline
        "&lt;script&gt;alert(6)&lt;/script&gt;<br>&lt;a href=&#x27;javascript:alert(7)&#x27;&gt;",
        "&lt;iframe src=&#x27;https://evil.example&#x27;&gt;&lt;/iframe&gt;",
        "&lt;img src=x onerror=alert(8)&gt;",
        "&lt;script&gt;alert(9)&lt;/script&gt;",
        "alertname=&lt;script&gt;x&lt;/script&gt;",
    ):
        assert escaped in text, escaped
    page = Elements(text)
    assert {tag for tag, _ in page.tags} <= {
        "html", "head", "meta", "title", "style", "body", "main", "header", "p", "span",
        "code", "time", "hr", "h1", "h2", "section", "em", "br", "table", "thead", "tbody",
        "tr", "th", "td",
    }  # fmt: skip
    for _, attrs in page.tags:
        assert not any(name.startswith("on") for name in attrs)
        assert set(attrs).isdisjoint({"href", "src"})


async def test_unsigned_forged_and_foreign_links_are_refused(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    incident = await entry(acme)
    other = await entry(acme, title="Another one")
    theirs = await entry(globex, title="Globex outage")
    runbook = await created(client, acme, slug=str(incident.id))  # the same key, signed
    tenant, signature = signature_of(incident_url(acme.tenant.id, incident.id))
    altered = signature[:-1] + ("B" if signature.endswith("A") else "A")
    _, other_signature = signature_of(incident_url(acme.tenant.id, other.id))
    _, runbook_signature = signature_of(runbook["url"])
    _, theirs_signature = signature_of(incident_url(globex.tenant.id, theirs.id))
    path = f"/incidents/{incident.id}"
    refused = [
        path,
        f"{path}?t={tenant}",
        f"{path}?sig={signature}",
        f"{path}?t={tenant}&sig=",
        f"{path}?t={tenant}&sig=forged",
        f"{path}?t={tenant}&sig={altered}",
        f"{path}?t={tenant}&sig={other_signature}",  # another incident's
        f"{path}?t={tenant}&sig={runbook_signature}",  # a runbook's
        f"{path}?t={globex.tenant.id}&sig={signature}",  # another tenant's
        f"{path}?t=not-a-uuid&sig={signature}",
        f"/incidents/{str(incident.id).upper()}?t={tenant}&sig={signature}",
        f"/incidents/not-a-uuid?t={tenant}&sig={signature}",
        f"/incidents/{theirs.id}?t={tenant}&sig={signature}",  # their incident, our link
        f"/incidents/{theirs.id}?t={tenant}&sig={theirs_signature}",
    ]
    for refused_path in refused:
        response = await client.get(refused_path)
        assert response.status_code == 403, refused_path
        assert "Payment gateway" not in response.text
        assert "Globex outage" not in response.text
        assert "default-src 'none'" in response.headers["content-security-policy"]
    # Nor does an incident's signature open the runbook page of the same key.
    crossed = await client.get(f"/runbooks/{runbook['slug']}?t={tenant}&sig={signature}")
    assert crossed.status_code == 403
    assert (await client.get(page_path(runbook["url"]))).status_code == 200

    # Signed for Acme, naming Globex's incident: not Acme's, so not found.
    foreign = await client.get(page_path(incident_url(acme.tenant.id, theirs.id)))
    assert foreign.status_code == 404
    assert "Globex outage" not in foreign.text
    unknown = await client.get(page_path(incident_url(acme.tenant.id, uuid.uuid4())))
    assert unknown.status_code == 404
    assert "default-src 'none'" in unknown.headers["content-security-policy"]
    assert (
        await client.get(page_path(incident_url(globex.tenant.id, theirs.id)))
    ).status_code == 200


async def test_the_page_costs_three_queries_and_shows_a_bounded_timeline(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime, query_count: list[str]
) -> None:
    incident = await entry(acme)
    url = page_path(incident_url(acme.tenant.id, incident.id))
    query_count.clear()
    assert (await client.get(url)).status_code == 200
    assert len(query_count) == 3

    await link_alerts(client, acme, app_runtime, incident, [f"Alert {i}" for i in range(5)])
    await IncidentUpdate.bulk_create(
        [
            IncidentUpdate(
                tenant=acme.tenant,
                incident=incident,
                author=acme.viewer if i % 2 else None,
                kind="note",
                text=f"Note {i}",
            )
            for i in range(MAX_UPDATES + 10)
        ]
    )
    query_count.clear()
    response = await client.get(url)
    assert response.status_code == 200
    assert len(query_count) == 3
    page = Elements(response.text)
    assert len(page.named("tr")) == (1 + 5) + (1 + MAX_UPDATES)
    assert f"Only the first {MAX_UPDATES} entries are shown." in response.text
    assert "Only the first 100 alerts" not in response.text


async def test_search_hits_link_to_the_incident_and_runbook_pages(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    incident = await entry(acme, title="Checkout crash-looping")
    await created(client, acme, title="Checkout crash runbook", slug="checkout-crash")
    await entry(globex, title="Checkout crash at Globex")
    body = await graphql(client, acme.viewer_token, SEARCH, q="checkout crash")
    hits = {hit["kind"]: hit for hit in body["data"]["searchKnowledgeBase"]}
    assert set(hits) == {"INCIDENT", "RUNBOOK"}
    assert hits["INCIDENT"]["link"] == incident_url(acme.tenant.id, incident.id)
    assert hits["RUNBOOK"]["link"].startswith("http://opswatch.test/runbooks/checkout-crash?t=")

    opened = await client.get(page_path(hits["INCIDENT"]["link"]))
    assert opened.status_code == 200
    assert "<h1>Checkout crash-looping</h1>" in opened.text
    assert "Raised the memory limit to 512Mi." in opened.text
    runbook = await client.get(page_path(hits["RUNBOOK"]["link"]))
    assert runbook.status_code == 200
    assert "Checkout crash runbook" in runbook.text
