"""Schema extensions that keep a client's mistakes and a database outage apart from bugs.

``RefuseNul``: PostgreSQL cannot store the NUL character, and SQLite stores what
PostgreSQL refuses, so a string holding one is refused before any resolver runs,
on both backends alike, naming the argument (or variable) it came in.

``DatabaseUnavailable``: a resolver that failed because the database cannot
answer now is not a bug to mask as "Unexpected error.": the error says
``UNAVAILABLE`` and the HTTP answer is a 503 with ``Retry-After``, so clients
retry later as they would for any other route.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    ListValueNode,
    Node,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
)
from graphql.error import GraphQLError
from starlette.responses import Response
from strawberry.extensions import SchemaExtension

from opswatch.dberrors import retryable
from opswatch.http.rest import RETRY_AFTER_SECONDS

NUL = "\x00"
UNAVAILABLE_MESSAGE = "the database is unavailable; retry"


def _nul_in_value(value: object, path: str) -> str | None:
    """The path of the first string holding NUL inside a variable's value, if any."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}"
            if NUL in str(key):
                return inner
            found = _nul_in_value(item, inner)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_in_value(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _nul_in_literal(value: ValueNode, path: str) -> tuple[str, Node] | None:
    if isinstance(value, StringValueNode):
        return (path, value) if NUL in value.value else None
    if isinstance(value, ObjectValueNode):
        for field in value.fields:
            found = _nul_in_literal(field.value, f"{path}.{field.name.value}")
            if found is not None:
                return found
    if isinstance(value, ListValueNode):
        for index, item in enumerate(value.values):
            found = _nul_in_literal(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _arguments(node: Any) -> Iterator[ArgumentNode]:
    """Every argument in the document (fields and directives, at any depth)."""
    if isinstance(node, ArgumentNode):
        yield node
        return
    if isinstance(node, Node):
        for key in node.keys:
            yield from _arguments(getattr(node, key, None))
    elif isinstance(node, tuple | list):
        for item in node:
            yield from _arguments(item)


def nul_error(document: DocumentNode, variables: dict[str, Any] | None) -> GraphQLError | None:
    for name, value in (variables or {}).items():
        path = _nul_in_value(value, name)
        if path is not None:
            return _invalid(f"variable ${path} must not contain the NUL character (\\u0000)", path)
    for argument in _arguments(document.definitions):
        found = _nul_in_literal(argument.value, argument.name.value)
        if found is not None:
            path, node = found
            return _invalid(f"{path} must not contain the NUL character (\\u0000)", path, node)
    return None


def _invalid(message: str, field: str, node: Node | None = None) -> GraphQLError:
    return GraphQLError(message, nodes=node, extensions={"code": "INVALID_INPUT", "field": field})


class RefuseNul(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and context.pre_execution_errors is None:
            refused = nul_error(context.graphql_document, context.variables)
            if refused is not None:
                # Errors present before validation stop the operation (and skip
                # validation, which has nothing to add).
                context.pre_execution_errors = [refused]
        yield


class DatabaseUnavailable(SchemaExtension):
    """Listed after ``MaskErrors``: extensions leave an operation in reverse order, so
    this one sees the original errors before they are masked."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is None or not errors:
            return
        if not any(_unavailable(error) for error in errors):
            return
        result.errors = [
            GraphQLError(
                UNAVAILABLE_MESSAGE,
                nodes=error.nodes,
                path=error.path,
                extensions={"code": "UNAVAILABLE"},
            )
            if _unavailable(error)
            else error
            for error in errors
        ]
        response = getattr(self.execution_context.context, "response", None)
        if isinstance(response, Response):  # not over a WebSocket
            response.status_code = 503
            response.headers["Retry-After"] = RETRY_AFTER_SECONDS


def _unavailable(error: GraphQLError) -> bool:
    return error.original_error is not None and retryable(error.original_error)
