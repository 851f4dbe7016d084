"""Per request: the API key (Bearer or X-API-Key) → the caller, counted against its rate limit; both in one
short transaction of their own, so a request that fails later still counts and still marks the key as used."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError
from core.api_keys import ApiCaller, authenticate_api_key
from core.i18n import t
from core.rate_limit import hit
from db.engine import unit_of_work

bearer = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="API-Schlüssel als Bearer-Token: `Authorization: Bearer sp_…`")
key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKey",
                          description="Alternativ: der API-Schlüssel im Header `X-API-Key`")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="schadenportal"'}


def client_ip(request: Request) -> str:
    """The caller's address; behind the proxy (TRUSTED_PROXY) the proxy's X-Real-IP header."""
    if request.app.state.settings.trusted_proxy and request.headers.get("x-real-ip"):
        return request.headers["x-real-ip"][:64]
    return request.client.host if request.client else ""


def api_caller(
    request: Request, response: Response,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    header_key: Annotated[str | None, Depends(key_header)],
) -> ApiCaller:
    """The caller of a valid key within its rate limit; 401 or 429 otherwise."""
    key = credentials.credentials if credentials is not None else (header_key or "")
    if not key.strip():
        raise ApiError(401, t("api.err_no_key"), headers=_CHALLENGE)
    state = request.app.state
    at = state.clock()
    limit = state.settings.api_rate_limit_per_minute
    with unit_of_work(state.engine) as session:  # commits the refusal log, last_used_at and the count
        caller = authenticate_api_key(session, key=key, at=at, ip=client_ip(request))
        decision = hit(session, bucket=f"api_key:{caller.key_id}", limit=limit, at=at) if caller else None
    if caller is None or decision is None:
        raise ApiError(401, t("api.err_bad_key"), headers=_CHALLENGE)
    limits = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(decision.remaining)}
    if not decision.allowed:
        raise ApiError(429, t("api.err_rate", limit=limit, seconds=decision.retry_after_s),
                       headers={**limits, "Retry-After": str(decision.retry_after_s)})
    response.headers.update(limits)
    return caller
