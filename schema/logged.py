"""A Schema that logs a client's mistakes at INFO and only our own failures at ERROR.

Strawberry logs every GraphQL error at ERROR, so a typo in a query looked like an
outage in the logs and paged whoever alerts on ERROR lines. A client's mistake is
one INFO line (code and path); an exception nobody anticipated keeps its ERROR and
traceback.
"""

from __future__ import annotations

import logging

import strawberry
from graphql.error import GraphQLError
from strawberry.types import ExecutionContext

from opswatch.errors import OpsWatchError

log = logging.getLogger("opswatch.graphql")


def is_client_mistake(error: GraphQLError) -> bool:
    """Validation, parsing and variable errors carry no exception of ours or none at all;
    errors we raise for bad input are OpsWatchErrors. A variable the client sent that
    a scalar refused has an original error but no path: it failed before any field ran."""
    original = error.original_error
    if original is None or isinstance(original, (OpsWatchError, GraphQLError)):
        return True
    return not error.path


def _code(error: GraphQLError) -> str:
    if isinstance(error.original_error, OpsWatchError):
        return error.original_error.code.upper()
    code = (error.extensions or {}).get("code")
    return str(code) if code else "GRAPHQL_VALIDATION_FAILED"


def _path(error: GraphQLError) -> str:
    return ".".join(str(part) for part in error.path) if error.path else "-"


class LoggedSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        operation = (execution_context.operation_name if execution_context else None) or "-"
        for error in errors:
            if is_client_mistake(error):
                log.info(
                    "graphql client error %s at %s in operation %s: %s",
                    _code(error),
                    _path(error),
                    operation,
                    error.message,
                    extra={"code": _code(error), "path": _path(error), "operation": operation},
                )
            else:
                log.error(
                    "graphql error at %s in operation %s: %s",
                    _path(error),
                    operation,
                    error.message,
                    exc_info=error.original_error,
                    extra={"path": _path(error), "operation": operation},
                )
