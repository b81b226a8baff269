"""Failures a caller can fix, each naming what was wrong. Every surface
(REST, GraphQL, CLI, Slack) turns them into its own 4xx-shaped answer."""

from __future__ import annotations


class OpsWatchError(Exception):
    code = "error"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def extensions(self) -> dict[str, str]:
        """GraphQL copies these onto the error it reports (graphql-core reads the attribute)."""
        extensions = {"code": self.code.upper()}
        if self.field is not None:
            extensions["field"] = self.field
        return extensions

    def as_dict(self) -> dict[str, str]:
        body = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class InvalidInput(OpsWatchError):
    code = "invalid_input"
    http_status = 422


class MalformedBody(OpsWatchError):
    """A body that cannot be read as what its Content-Type says it is."""

    code = "malformed_body"
    http_status = 400


class NotFound(OpsWatchError):
    code = "not_found"
    http_status = 404


class Conflict(OpsWatchError):
    code = "conflict"
    http_status = 409


class Unauthenticated(OpsWatchError):
    code = "unauthenticated"
    http_status = 401


class Forbidden(OpsWatchError):
    code = "forbidden"
    http_status = 403
