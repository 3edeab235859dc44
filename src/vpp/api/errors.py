"""One error body everywhere, and the one table that maps vpp's errors to HTTP statuses.

Routes raise domain errors (or the few API errors below); they never build responses::

    {"error": {"code": "validation_error", "message": "...",
               "details": [{"field": "sites.0.resources.1.power_kw", "reason": "..."}]}}
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from vpp.config import describe_validation_error
from vpp.controller import EventNotFoundError, TransitionError
from vpp.domain import (
    ConfigError,
    GridAlignmentError,
    UnknownReferenceError,
    VppError,
    kind_names,
)
from vpp.store import DatabaseUrlError, DuplicateEventError, TokenScopeError

logger = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    field: str
    reason: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorBody(BaseModel):
    error: ErrorInfo


class ApiError(VppError):
    """An error with its HTTP status and machine-readable code."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: Sequence[tuple[str, str]] = ()) -> None:
        self.message = message
        self.details = list(details)
        super().__init__(message)


class NotAuthenticatedError(ApiError):
    status, code = 401, "unauthenticated"


class ForbiddenError(ApiError):
    status, code = 403, "forbidden"


class NotFoundError(ApiError):
    status, code = 404, "not_found"


class ConflictError(ApiError):
    status, code = 409, "conflict"


class InvalidInputError(ApiError):
    status, code = 422, "validation_error"


class ServiceUnavailableError(ApiError):
    status, code = 503, "unavailable"


def body(code: str, message: str, details: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    return ErrorBody(
        error=ErrorInfo(
            code=code,
            message=message,
            details=[ErrorDetail(field=f, reason=r) for f, r in details],
        )
    ).model_dump()


def _response(
    status: int, code: str, message: str, details: Sequence[tuple[str, str]] = ()
) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body(code, message, details), status_code=status, headers=headers)


def _translate(exc: Exception) -> JSONResponse:
    """The one table: error class -> status, code."""
    if isinstance(exc, ApiError):
        return _response(exc.status, exc.code, exc.message, exc.details)
    if isinstance(exc, ConfigError):
        return _response(422, "validation_error", "invalid input", exc.problems)
    if isinstance(exc, ValidationError):
        return _response(422, "validation_error", "invalid input", describe_validation_error(exc))
    if isinstance(exc, GridAlignmentError):
        return _response(422, "validation_error", str(exc), [(exc.field, exc.reason)])
    if isinstance(exc, (UnknownReferenceError, EventNotFoundError)):
        return _response(404, "not_found", str(exc))
    if isinstance(exc, (DuplicateEventError, TransitionError)):
        return _response(409, "conflict", str(exc))
    if isinstance(exc, (TokenScopeError, DatabaseUrlError)):
        return _response(422, "validation_error", str(exc))
    if isinstance(exc, VppError):
        return _response(409, "conflict", str(exc))
    logger.exception("unhandled error", exc_info=exc)
    return _response(500, "internal_error", "internal error; see the service log")


def _request_validation(exc: RequestValidationError) -> JSONResponse:
    not_json = [e for e in exc.errors() if e.get("type") == "json_invalid"]
    if not_json:  # the body could not be read at all: the request is bad, not its fields
        error = not_json[0]
        where = error.get("loc", ("body", 0))[-1]
        cause = error.get("ctx", {}).get("error", "JSON decode error")
        return _response(
            400, "http_error", "body is not JSON", [("(body)", f"{cause} at character {where}")]
        )
    problems = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ())]
        if loc and loc[0] == "body":
            loc = loc[1:]
        reason = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        head, sep, tail = reason.partition(": ")
        if sep and head and " " not in head and all(c.isalnum() or c in "._-" for c in head):
            loc.append(head)
            reason = tail
        path = ".".join(p for p in loc if p not in _OTHER_UNION_TAGS and p not in kind_names())
        problems.append((path or "(body)", reason))
    return _response(422, "validation_error", "invalid request", problems)


#: Discriminator values pydantic puts in error paths besides the resource kinds; paths read
#: like the body without them.
_OTHER_UNION_TAGS = {"synthetic", "csv"}


#: Methods a route may answer, in the order Allow lists them.
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route answers on this path (a path may have a route per method)."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**scope, "method": method})[0] is Match.FULL
            for route in app.router.routes
        )
    ]


def install(app: FastAPI) -> None:
    """Register the handlers: every error leaves as the one body shape."""

    async def on_vpp_error(_request: Request, exc: Exception) -> JSONResponse:
        return _translate(exc)

    async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _request_validation(exc)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        response = _response(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(allowed_methods(app, request.scope))
        return response

    app.add_exception_handler(VppError, on_vpp_error)
    app.add_exception_handler(ValidationError, on_vpp_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_vpp_error)
