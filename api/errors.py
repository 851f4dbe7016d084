"""Every error as JSON: `{"error": {"code": …, "message": <German>, "fields": {field: <German>}}}`.

Core errors map to status codes here; FastAPI's own validation errors and Starlette's HTTP errors (unknown
route, wrong method) are rewritten into the same shape. An unexpected error is a 500 with no detail."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from core.errors import (
    AuthError,
    ConflictError,
    NotFound,
    PermissionDenied,
    SchadenportalError,
    TransitionError,
    ValidationError,
)
from core.i18n import t
from core.intake import FieldErrors

log = logging.getLogger("api")

_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
                 422: "validation_error", 429: "rate_limited", 500: "internal_error", 503: "unavailable"}


class ApiError(Exception):
    """An error answer: status, code, German message, per-field messages, extra headers."""

    def __init__(self, status: int, message: str, *, fields: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.code = code or _STATUS_CODES.get(status, "error")
        self.fields, self.headers = fields or {}, headers or {}


def error_response(status: int, message: str, *, fields: dict[str, str] | None = None,
                   headers: dict[str, str] | None = None, code: str | None = None) -> JSONResponse:
    body = {"error": {"code": code or _STATUS_CODES.get(status, "error"), "message": message, "fields": fields or {}}}
    return JSONResponse(body, status_code=status, headers=headers)


def case_not_found() -> ApiError:
    """The one refusal for a case that is missing or not the caller's: it reveals nothing (§6)."""
    return ApiError(404, t("case.refused"))


def from_core(exc: SchadenportalError) -> ApiError:
    """The API error of a core error."""
    if isinstance(exc, FieldErrors):
        return ApiError(422, str(exc), fields=dict(exc.errors))
    if isinstance(exc, ValidationError):
        return ApiError(422, str(exc), fields={exc.field: str(exc)} if exc.field else {})
    if isinstance(exc, NotFound):
        return ApiError(404, str(exc))
    if isinstance(exc, (PermissionDenied, AuthError)):
        return ApiError(403, str(exc))
    if isinstance(exc, (ConflictError, TransitionError)):
        return ApiError(409, str(exc))
    return ApiError(422, str(exc))


_MESSAGES = {
    "missing": "api.err_missing", "string_too_long": "api.err_too_long", "string_type": "api.err_string",
    "int_parsing": "api.err_int", "int_type": "api.err_int", "int_from_float": "api.err_int",
    "greater_than_equal": "api.err_min", "less_than_equal": "api.err_max", "date_from_datetime_parsing": "api.err_date",
    "date_parsing": "api.err_date", "date_type": "api.err_date", "date_from_datetime_inexact": "api.err_date",
    "json_invalid": "api.err_json", "model_attributes_type": "api.err_object", "dict_type": "api.err_object",
    "extra_forbidden": "api.err_extra", "enum": "api.err_enum", "literal_error": "api.err_enum",
    "no_nul": "api.err_nul", "value_error": "api.err_value",
}


def german(error: dict) -> str:
    """The German message of one pydantic error."""
    ctx = error.get("ctx") or {}
    key = _MESSAGES.get(error.get("type", ""), "api.err_value")
    values = {"max": ctx.get("max_length", ctx.get("le", "")), "min": ctx.get("ge", ""),
              "allowed": ctx.get("expected", "")}
    return t(key, **values)


def field_name(loc: tuple | list) -> str:
    """`("body", "client_email")` → `client_email`; the body itself → `body`."""
    if len(loc) < 2 or isinstance(loc[1], int):  # the body as a whole (e.g. invalid JSON at a position)
        return str(loc[0]) if loc else "body"
    return ".".join(str(p) for p in loc[1:])


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the API answers at this request's path (`app.state.routes`: the /v1 routes)."""
    methods: set[str] = set()
    for route in request.app.state.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the JSON shape above."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, fields=exc.fields, headers=exc.headers, code=exc.code)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields: dict[str, str] = {}
        for error in exc.errors():
            fields.setdefault(field_name(error.get("loc", ())), german(error))
        return error_response(422, t("intake.fix_fields", count=len(fields)), fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        key = {400: "api.err_unreadable", 404: "api.err_route", 405: "api.err_method"}.get(exc.status_code,
                                                                                          "api.err_http")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # Starlette names only the first route's methods; list every route's for the path
            headers["Allow"] = ", ".join(allowed_methods(request))
        return error_response(exc.status_code, t(key), headers=headers or None)

    @app.exception_handler(OperationalError)
    async def _database(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable: %s", type(exc.orig).__name__ if exc.orig else type(exc).__name__)
        return error_response(503, t("api.err_database"), headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, t("api.err_internal"))
