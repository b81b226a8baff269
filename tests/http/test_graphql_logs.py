"""A client's GraphQL mistakes are logged at INFO, never ERROR; our own bugs stay ERRORs
with their traceback."""

from __future__ import annotations

import logging

import httpx
import pytest
import strawberry

from schema.logged import LoggedSchema
from tests.factories import TenantKit, graphql


def _errors_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_a_query_that_fails_validation_is_an_info_line(
    client: httpx.AsyncClient, acme: TenantKit, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        body = await graphql(client, acme.admin_token, "query { alerts { nosuchfield } }")
    assert body["errors"]
    assert _errors_logged(caplog) == []
    (line,) = [r for r in caplog.records if r.name == "opswatch.graphql"]
    assert line.levelno == logging.INFO
    assert "GRAPHQL_VALIDATION_FAILED" in line.getMessage()


async def test_a_variable_of_the_wrong_type_is_an_info_line(
    client: httpx.AsyncClient, acme: TenantKit, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        body = await graphql(
            client, acme.admin_token, "query($id: ID!) { alert(id: $id) { id } }", id=None
        )
    assert body["errors"]
    assert _errors_logged(caplog) == []
    (line,) = [r for r in caplog.records if r.name == "opswatch.graphql"]
    assert "Variable '$id'" in line.getMessage()


async def test_invalid_input_is_an_info_line_naming_its_code_and_path(
    client: httpx.AsyncClient, acme: TenantKit, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        body = await graphql(
            client, acme.admin_token, "query($id: ID!) { alert(id: $id) { id } }", id="x" * 13
        )
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert _errors_logged(caplog) == []
    (line,) = [r for r in caplog.records if r.name == "opswatch.graphql"]
    assert line.levelno == logging.INFO
    assert "INVALID_INPUT at alert" in line.getMessage()


@strawberry.type
class BrokenQuery:
    @strawberry.field
    def broken(self) -> str:
        raise RuntimeError("a bug in a resolver")


async def test_an_unexpected_exception_is_an_error_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    schema = LoggedSchema(query=BrokenQuery)
    with caplog.at_level(logging.INFO):
        result = await schema.execute("query { broken }")
    assert result.errors
    (line,) = _errors_logged(caplog)
    assert line.name == "opswatch.graphql"
    assert line.exc_info is not None
    assert "a bug in a resolver" in str(line.exc_info[1])
