"""Errors of the admin REST API and the one place that renders them as JSON.

Every error body is ``{"error": {"code", "message", "fields"}}``: ``code`` is for
machines, ``message`` for people, ``fields`` maps a field name to what is wrong with it.

    ApiError
    ├── BadRequest        400
    ├── Unauthorized      401
    ├── Forbidden         403  (the role may not do this at all)
    ├── NotFound          404  (absent, or outside the caller's tenant or reseller scope)
    ├── Conflict          409
    ├── ValidationFailed  422
    └── Throttled         429
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from palinsesto import errors as rules


class ApiError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        fields: dict[str, str] | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.headers = headers
        if code:
            self.code = code


class BadRequest(ApiError):
    status_code = 400
    code = "bad_request"


class Unauthorized(ApiError):
    status_code = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status_code = 403
    code = "forbidden"


class NotFound(ApiError):
    status_code = 404
    code = "not_found"


class Conflict(ApiError):
    status_code = 409
    code = "conflict"


class ValidationFailed(ApiError):
    status_code = 422
    code = "validation_error"


class Unavailable(ApiError):
    status_code = 503
    code = "unavailable"


class Throttled(ApiError):
    status_code = 429
    code = "too_many_attempts"


# How each domain rule (palinsesto.errors) is answered: status and machine code.
RULE_STATUS: dict[type[rules.RuleBroken], tuple[int, str]] = {
    rules.InvalidValue: (422, "validation_error"),
    rules.AlreadyExists: (409, "conflict"),
    rules.PlanLimitReached: (409, "plan_limit_reached"),
    rules.InsufficientCredits: (409, "insufficient_credits"),
    rules.NotPermitted: (403, "forbidden"),
    rules.OutOfScope: (404, "not_found"),
    rules.StillReferenced: (409, "still_referenced"),
}


def error_body(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _field_name(loc: tuple[Any, ...]) -> str:
    # ("body", "lines", 0, "username") -> "lines.0.username"; the request part is dropped.
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in {"body", "query", "path"} else loc
    return ".".join(str(p) for p in parts) or str(loc[0] if loc else "request")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.fields),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(rules.RuleBroken)
    async def _rule(_request: Request, exc: rules.RuleBroken) -> JSONResponse:
        status, code = next(
            (v for k, v in RULE_STATUS.items() if isinstance(exc, k)), (400, "bad_request")
        )
        return JSONResponse(error_body(code, exc.message, exc.fields), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields: dict[str, str] = {}
        for err in exc.errors():
            message = str(err.get("msg", ""))
            if err.get("type") == "extra_forbidden":
                # pydantic's "Extra inputs are not permitted" does not say why.
                message = "Unknown field: this request has no field of that name."
            fields.setdefault(_field_name(tuple(err.get("loc", ()))), message)
        return JSONResponse(
            error_body("validation_error", "Some fields are not valid.", fields), status_code=422
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_request: Request, exc: IntegrityError) -> JSONResponse:
        # Services check uniqueness first; this is the race-condition backstop.
        return JSONResponse(
            error_body("conflict", "The change conflicts with existing data."), status_code=409
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )
