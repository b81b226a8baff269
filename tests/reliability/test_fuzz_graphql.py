"""Every GraphQL query and mutation, fuzzed: schemathesis builds the operations from the
schema's SDL and generates their arguments (hypothesis-graphql underneath); each case
goes to the app as a tenant's admin or viewer. No answer may be a 5xx, and no error
may be the masked "Unexpected error.": a client's mistake is theirs to fix, so it
must say what it is (INVALID_INPUT, NOT_FOUND, FORBIDDEN, a validation error...).

Why the cases are posted by hand instead of through ``case.call_asgi``: schemathesis's
ASGI transport is synchronous (Starlette's TestClient), and runs the app on an event
loop of its own in another thread, where the database connections of this test
session (bound to the test's loop) cannot be used. Drawing schemathesis's cases and
posting them with httpx's ASGITransport keeps everything on the test's loop, with no
server to start.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC
from typing import Any

import graphql
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Err
from schemathesis.graphql import nodes

from opswatch.models import Alert, ApiKey
from opswatch.queue.inprocess import InProcessQueue
from opswatch.runtime import Runtime
from schema.schema import schema as strawberry_schema
from tests.factories import TenantKit

EXAMPLES = int(os.environ.get("OPSWATCH_FUZZ_GRAPHQL_EXAMPLES", "10"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MASKED = "Unexpected error."

odd_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "\u0000", "x" * 5_000, "not-a-date", "2026-02-30", "-1", "\ud800"]),
)
moments = st.one_of(
    st.datetimes(timezones=st.sampled_from([UTC, None])).map(lambda m: m.isoformat()),
    st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00", "2026-11-27T03:00"]),
    odd_text,
)
days = st.one_of(st.dates().map(lambda d: d.isoformat()), odd_text)


def _field(name: str, value: graphql.ValueNode) -> graphql.ObjectFieldNode:
    return graphql.ObjectFieldNode(name=graphql.NameNode(value=name), value=value)


def json_containers(
    inner: st.SearchStrategy[graphql.ValueNode],
) -> st.SearchStrategy[graphql.ValueNode]:
    # A named function, not a lambda: Hypothesis reads a lambda's source to check that
    # it recurses, and cannot always find it (a HypothesisDeprecationWarning, an error).
    names = st.sampled_from(["title", "severity", "labels", "x", "a.b", "_"])
    return st.one_of(
        st.lists(inner, max_size=3).map(nodes.List),
        st.dictionaries(names, inner, max_size=4).map(
            lambda fields: nodes.Object([_field(k, v) for k, v in fields.items()])
        ),
    )


json_nodes = st.recursive(
    st.one_of(
        odd_text.map(nodes.String),
        st.integers(-(2**70), 2**70).map(nodes.Int),
        st.booleans().map(nodes.Boolean),
        st.just(graphql.NullValueNode()),
    ),
    json_containers,
    max_leaves=8,
)
schemathesis.graphql.scalar("DateTime", moments.map(nodes.String))
schemathesis.graphql.scalar("Date", days.map(nodes.String))
schemathesis.graphql.scalar("JSON", json_nodes)

SCHEMA = schemathesis.graphql.from_file(strawberry_schema.as_str())


def _operations() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for result in SCHEMA.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # an operation schemathesis cannot build is a failure here
        found[result.ok().label] = result.ok()
    return found


OPERATIONS = _operations()
STRATEGIES = {label: operation.as_strategy() for label, operation in OPERATIONS.items()}


SEED = {
    "service": 'mutation { createService(input: {name: "seed"}) { id } }',
    "roster": 'mutation { createRoster(input: {name: "seed", timezone: "UTC"}) { id } }',
    "policy": 'mutation { createEscalationPolicy(input: {name: "seed", tiers: '
    "[{delayMinutes: 1, channels: [SMS], userIds: [USER]}]}) { id } }",
    "incident": 'mutation { createIncident(input: {title: "seed", summary: "s"}) { id } }',
    "runbook": 'mutation { createRunbook(input: {title: "seed", slug: "seed"}) { id } }',
}
# An ID argument as the printer writes it: `id: "…"`, `rosterId: "…"`, `alertIds: [...]`.
ID_ARGUMENT = re.compile(r'\b(\w*[iI]d): "(?:[^"\\]|\\.)*"|\b(\w*Ids): \[[^\]]*\]')


@pytest.fixture
async def known_ids(client: httpx.AsyncClient, app_runtime: Runtime, acme: TenantKit) -> list[str]:
    """The ids of one object of each kind, so that generated ids now and then name
    something that exists (random ones would only ever meet NOT_FOUND)."""
    ids = [str(acme.admin.id), str(acme.viewer.id)]
    for name, mutation in SEED.items():
        query = mutation.replace("USER", json.dumps(ids[0]))
        answer = await graphql_call(client, acme.admin_token, query)
        assert "errors" not in answer, (name, answer)
        ids.append(next(iter(answer["data"].values()))["id"])
    await client.post(
        "/api/v1/webhooks/generic",
        json={"title": "seed", "fingerprint": "seed"},
        headers={"X-API-Key": acme.api_key},
    )
    queue = app_runtime.queue
    assert isinstance(queue, InProcessQueue)
    await queue.drain()
    ids += [str(alert.id) for alert in await Alert.filter(tenant=acme.tenant)]
    ids += [str(key.id) for key in await ApiKey.filter(tenant=acme.tenant)]
    return ids


async def graphql_call(client: httpx.AsyncClient, token: str, query: str) -> dict[str, Any]:
    # ASCII JSON: a lone surrogate in a generated string travels as "\\ud800".
    response = await client.post(
        "/graphql",
        content=json.dumps({"query": query}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code < 500, f"{response.status_code} {response.text[:2000]} to:\n{query}"
    answer: dict[str, Any] = response.json()
    return answer


def test_every_query_and_mutation_is_fuzzed() -> None:
    fields = strawberry_schema._schema  # graphql-core's schema, built by Strawberry
    expected = {f"Query.{name}" for name in fields.query_type.fields}  # type: ignore[union-attr]
    expected |= {f"Mutation.{name}" for name in fields.mutation_type.fields}  # type: ignore[union-attr]
    assert expected == set(OPERATIONS)


@pytest.mark.parametrize("label", sorted(OPERATIONS))
@FUZZ
@given(data=st.data(), as_admin=st.booleans())
async def test_no_operation_fails_with_a_server_error(
    client: httpx.AsyncClient,
    app_runtime: Runtime,
    acme: TenantKit,
    known_ids: list[str],
    label: str,
    data: st.DataObject,
    as_admin: bool,
) -> None:
    case = data.draw(STRATEGIES[label], label="case")
    query = str(case.body)

    def known(match: re.Match[str]) -> str:
        if not data.draw(st.booleans(), label="known id"):
            return match.group(0)
        chosen = json.dumps(data.draw(st.sampled_from(known_ids), label="id"))
        return f"{match.group(1)}: {chosen}" if match.group(1) else f"{match.group(2)}: [{chosen}]"

    query = ID_ARGUMENT.sub(known, query)
    token = acme.admin_token if as_admin else acme.viewer_token
    body = await graphql_call(client, token, query)
    errors = body.get("errors") or []
    masked = [error for error in errors if error.get("message") == MASKED]
    assert not masked, f"{label} answered {MASKED!r} to:\n{query}\n{body}"
    codes = {(e.get("extensions") or {}).get("code", "validation") for e in errors}
    event(f"{'errors ' + ','.join(sorted(codes)) if errors else 'data'}")


# What the fuzzing found, kept as plain cases: an id that is neither a UUID nor as
# short as a short id (12) or a key prefix (16) failed the lookup's own length check
# (a masked "Unexpected error."). It is the client's mistake: INVALID_INPUT naming
# the argument, as the issue asks.
LONG_ID = json.dumps("not-a-uuid-and-too-long-for-a-short-id")
LOOKUPS = [
    f"{{ alert(id: {LONG_ID}) {{ id }} }}",
    f"mutation {{ acknowledgeAlert(id: {LONG_ID}) {{ id }} }}",
    f"mutation {{ resolveAlert(id: {LONG_ID}, notes: null) {{ id }} }}",
    f"mutation {{ escalateAlert(id: {LONG_ID}) {{ id }} }}",
    f"mutation {{ revokeApiKey(id: {LONG_ID}) {{ id }} }}",
    f"mutation {{ updateApiKey(id: {LONG_ID}, rateLimitPerMinute: 5) {{ id }} }}",
]


@pytest.mark.parametrize("query", LOOKUPS, ids=lambda q: q.split("(")[0].split()[-1])
async def test_an_id_of_no_shape_of_id_is_invalid_input_naming_the_argument(
    client: httpx.AsyncClient, app_runtime: Runtime, acme: TenantKit, query: str
) -> None:
    body = await graphql_call(client, acme.admin_token, query)
    extensions = [e.get("extensions") or {} for e in body.get("errors") or []]
    assert [(e.get("code"), e.get("field")) for e in extensions] == [("INVALID_INPUT", "id")], body


# Also found by the fuzzing: a time zone naming a directory of the zone database
# ("America"), or too long for a file name, made the lookup raise OSError, which
# reads as a database that went away (503 UNAVAILABLE, "retry").
NOT_ZONES = ["America", "Etc", "z" * 300]
ZONE_INPUTS = [
    'mutation { createRoster(input: {name: "r", timezone: ZONE}) { id } }',
    'mutation { createUser(input: {name: "u", email: "u@acme.example", timezone: ZONE}) { id } }',
]


@pytest.mark.parametrize("zone", NOT_ZONES, ids=["directory", "etc", "too-long"])
@pytest.mark.parametrize("mutation", ZONE_INPUTS, ids=["createRoster", "createUser"])
async def test_a_time_zone_that_is_no_zone_is_invalid_input(
    client: httpx.AsyncClient, app_runtime: Runtime, acme: TenantKit, mutation: str, zone: str
) -> None:
    body = await graphql_call(client, acme.admin_token, mutation.replace("ZONE", json.dumps(zone)))
    codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
    assert codes == ["INVALID_INPUT"], body
