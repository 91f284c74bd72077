"""The one error shape of the API: ``application/problem+json`` (RFC 9457) with a stable
``error_id`` and the request id. Every error the app raises is an :class:`ApiError`; the
framework's own errors (404 routes, validation) are rendered by the same function."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cbstreams.exceptions import REDIS_DOWN

__all__ = ["PROBLEM", "ApiError", "install_error_handler", "problem_response"]

PROBLEM = "application/problem+json"
log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered to the client. ``detail`` must never contain secrets."""

    def __init__(
        self,
        status: int,
        error_id: str,
        title: str,
        detail: str = "",
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {error_id}")
        self.status, self.error_id, self.title, self.detail = status, error_id, title, detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def unauthenticated(detail: str = "a valid API key or session token is required") -> ApiError:
    return ApiError(
        401, "unauthenticated", "Unauthenticated", detail, headers={"WWW-Authenticate": "Bearer"}
    )


def forbidden(error_id: str, detail: str) -> ApiError:
    return ApiError(403, error_id, "Forbidden", detail)


def not_found(error_id: str, detail: str) -> ApiError:
    return ApiError(404, error_id, "Not found", detail)


def problem_response(request: Request, err: ApiError) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:callbridge:error:{err.error_id}",
        "title": err.title,
        "status": err.status,
        "error_id": err.error_id,
        **err.extra,
    }
    if err.detail:
        body["detail"] = err.detail
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=err.status, headers=err.headers, media_type=PROBLEM)


#: Redis unreachable (restart, failover, network): 503, never a 500.
UNAVAILABLE = REDIS_DOWN


def backend_unavailable() -> ApiError:
    """The one answer to a request that meets a Redis outage: retryable."""
    return ApiError(503, "backend-unavailable", "Backend unavailable", "try again shortly",
                    headers={"Retry-After": "2"})  # fmt: skip


def _as_api_error(exc: Exception) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestValidationError):
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return ApiError(
            422, "invalid-request", "Invalid request", "see errors", extra={"errors": errors}
        )
    if isinstance(exc, StarletteHTTPException):
        ids = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}
        return ApiError(
            exc.status_code,
            ids.get(exc.status_code, f"http-{exc.status_code}"),
            str(exc.detail),
            headers=exc.headers,
        )
    if isinstance(exc, UNAVAILABLE):  # an outage is ordinary (logged once by the link)
        return backend_unavailable()
    log.error("unhandled error", exc_info=exc)
    return ApiError(500, "internal-error", "Internal server error")


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, UNAVAILABLE):
        services = getattr(request.app.state, "services", None)
        if services is not None:
            services.link.down(exc)
            # idle connections died with the server: drop them now, so that requests after
            # the outage get fresh ones instead of failing once each
            await services.redis.connection_pool.disconnect(inuse_connections=False)
    return problem_response(request, _as_api_error(exc))


def install_error_handler(app: FastAPI) -> None:
    """One handler for every error type the app can meet (Redis outages by type: a handler
    for ``Exception`` alone would answer and then re-raise them to the server)."""
    kinds = (ApiError, RequestValidationError, StarletteHTTPException, *UNAVAILABLE, Exception)
    for kind in kinds:
        app.add_exception_handler(kind, _handle)
