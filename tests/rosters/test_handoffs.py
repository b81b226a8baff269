"""Handoff notices (spec 4.3): exactly once per handoff, with the open alerts, even when two
scheduler ticks race; the signed report page; the live oncallChanged feed over WebSocket."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from opswatch.audit.actor import Actor
from opswatch.models import AuditLog, Handoff, Notification
from opswatch.queue.inprocess import InProcessQueue
from opswatch.rosters.handoffs import detect_handoffs
from opswatch.runtime import Runtime
from opswatch.tenants.services import create_service
from tests.factories import TenantKit, graphql
from tests.rosters.support import GlobalPrimary, global_primary

# January: APAC (Auckland, NZDT) hands the pager to EMEA (Berlin, CET) at 07:00Z;
# on Tuesday 2026-01-13 that is Alice (APAC, week 2) to Katja (EMEA, week 2).
HANDOFF = datetime(2026, 1, 13, 7, 0, tzinfo=UTC)
TICK = HANDOFF + timedelta(minutes=1)


async def with_open_alerts(
    client: httpx.AsyncClient, kit: TenantKit, spec: GlobalPrimary, runtime: Runtime
) -> None:
    await create_service(
        tenant=kit.tenant,
        name="etcd",
        cluster="prod-de-01",
        roster_id=str(spec.roster.id),
        actor=Actor.system("test"),
    )
    for title, severity in (
        ("etcd leader election failure", "critical"),
        ("High memory usage on ingress-controller", "warning"),
    ):
        response = await client.post(
            "/api/v1/webhooks/generic",
            json={"title": title, "severity": severity, "labels": {"cluster": "prod-de-01"}},
            headers={"X-API-Key": kit.api_key},
        )
        assert response.status_code == 202
    assert isinstance(runtime.queue, InProcessQueue)
    await runtime.queue.drain()
    alerts = await graphql(client, kit.admin_token, "{ alerts { edges { node { id title } } } }")
    etcd = next(
        e["node"]["id"] for e in alerts["data"]["alerts"]["edges"] if "etcd" in e["node"]["title"]
    )
    await graphql(
        client, kit.admin_token, "mutation($id: ID!) { acknowledgeAlert(id: $id) { id } }", id=etcd
    )


async def test_two_racing_ticks_announce_a_handoff_once(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    spec = await global_primary(acme.tenant)
    await with_open_alerts(client, acme, spec, app_runtime)

    first, second = await asyncio.gather(detect_handoffs(TICK), detect_handoffs(TICK))
    assert len(first) + len(second) == 1
    assert await detect_handoffs(TICK) == []  # and a later tick finds nothing new
    handoff = await Handoff.get(roster_id=spec.roster.id)
    assert handoff.shift_start == HANDOFF
    assert handoff.outgoing_id == spec.people["Alice"].id  # type: ignore[attr-defined]
    assert handoff.incoming_id == spec.people["Katja"].id  # type: ignore[attr-defined]
    assert await AuditLog.filter(action="roster.handoff").count() == 1

    notices = {n.kind: n for n in await Notification.all()}
    assert set(notices) == {"handoff.outgoing", "handoff.incoming"}
    outgoing, incoming = notices["handoff.outgoing"], notices["handoff.incoming"]
    assert outgoing.user_id == spec.people["Alice"].id  # type: ignore[attr-defined]
    assert outgoing.text.startswith(
        "Your on-call shift is ending. Open incidents: 2 (1 critical, 1 warning).\n<http"
    )
    assert outgoing.text.endswith("|View Handoff Report>")
    cluster = "(cluster prod-de-01)"
    assert incoming.text.splitlines()[:3] == [
        "You are now on-call for Global Primary. Open incidents: 2.",
        f"- CRITICAL: etcd leader election failure {cluster} — acknowledged by Acme Admin",
        f"- WARNING: High memory usage on ingress-controller {cluster} — not acknowledged",
    ]


async def test_handoffs_are_visible_in_graphql_and_on_the_signed_report_page(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    spec = await global_primary(acme.tenant)
    await with_open_alerts(client, acme, spec, app_runtime)
    [handoff] = await detect_handoffs(TICK)
    body = await graphql(client, acme.admin_token, "{ notifications { kind text user { name } } }")
    kinds = {(n["kind"], n["user"]["name"]) for n in body["data"]["notifications"]}
    assert kinds == {("handoff.outgoing", "Alice"), ("handoff.incoming", "Katja")}
    # A viewer sees only their own notices.
    body = await graphql(client, acme.viewer_token, "{ notifications { kind } }")
    assert body["data"]["notifications"] == []

    link = (await Notification.get(kind="handoff.incoming")).payload["link"]
    path = link.split("://", 1)[1].split("/", 1)[1]
    page = await client.get(f"/{path}")
    assert page.status_code == 200
    assert "etcd leader election failure" in page.text
    assert "Alice" in page.text
    assert "Katja" in page.text
    # The shell and headers of every page behind a signed link.
    assert "script-src" not in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "private, no-cache"
    assert "<meta name='robots' content='noindex'>" in page.text
    unsigned = await client.get(f"/rosters/{spec.roster.id}/handoff/{handoff.id}")
    assert unsigned.status_code == 404
    forged = await client.get(f"/rosters/{spec.roster.id}/handoff/{handoff.id}?sig=AAAA")
    assert forged.status_code == 404


async def test_an_override_starting_is_a_handoff_too(acme: TenantKit) -> None:
    spec = await global_primary(acme.tenant)
    from opswatch.rosters.overrides import create_override

    start = HANDOFF + timedelta(hours=3)
    await create_override(
        tenant=acme.tenant,
        roster=spec.roster,
        user_id=str(spec.people["Bob"].id),
        start=start,
        end=start + timedelta(hours=2),
        actor=Actor.system("test"),
        now=start - timedelta(days=1),
    )
    [handoff] = await detect_handoffs(start + timedelta(minutes=5))
    assert handoff.report["incoming"]["source"] == "override"
    assert handoff.incoming_id == spec.people["Bob"].id  # type: ignore[attr-defined]
    [ended] = await detect_handoffs(start + timedelta(hours=2, minutes=5))
    assert ended.incoming_id == spec.people["Katja"].id  # type: ignore[attr-defined]


ONCALL_CHANGED = """
subscription($roster: ID) {
  oncallChanged(rosterId: $roster) {
    at cursor roster { name } previousUser { name }
    oncall { user { name } roster { name } source shiftStart shiftEnd }
  }
}
"""


async def test_oncall_changed_streams_each_handoff_over_websocket(
    live_server: str, acme: TenantKit
) -> None:
    spec = await global_primary(acme.tenant)
    transport = WebsocketsTransport(
        url=f"ws://{live_server}/graphql",
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        init_payload={"Authorization": f"Bearer {acme.viewer_token}"},
    )
    async with Client(transport=transport) as session:
        feed = session.subscribe(
            GraphQLRequest(ONCALL_CHANGED, variable_values={"roster": str(spec.roster.id)})
        )
        first = asyncio.ensure_future(anext(feed))
        await asyncio.sleep(0.3)  # subscribed before the tick
        await detect_handoffs(TICK)
        change = (await asyncio.wait_for(first, 10))["oncallChanged"]
        await feed.aclose()
    assert change["roster"]["name"] == "Global Primary"
    assert change["previousUser"]["name"] == "Alice"
    assert change["oncall"]["user"]["name"] == "Katja"
    assert change["oncall"]["roster"]["name"] == "EMEA"
    assert change["oncall"]["shiftStart"] == HANDOFF.isoformat()


async def test_an_alert_names_who_was_on_call_for_its_service(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    spec = await global_primary(acme.tenant)
    await with_open_alerts(client, acme, spec, app_runtime)
    body = await graphql(
        client, acme.admin_token, "{ alerts { edges { node { title oncallUser { name } } } } }"
    )
    holders = {e["node"]["oncallUser"]["name"] for e in body["data"]["alerts"]["edges"]}
    now = await client.get(
        f"/api/v1/rosters/{spec.roster.id}/oncall", headers={"X-API-Key": acme.api_key}
    )
    assert holders == {now.json()["user"]["name"]}
