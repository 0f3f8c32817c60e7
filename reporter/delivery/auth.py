"""Authentication (API key from header or UI cookie) and the per-key rate limit, as one FastAPI
dependency."""

from __future__ import annotations

from fastapi import HTTPException, Request

from .ratelimit import retry_after_header
from .state import ServiceState

COOKIE = "phantom_key"


def key_from_request(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key") or request.cookies.get(COOKIE)


def make_auth(state: ServiceState):
    def require_key(request: Request) -> str:
        if state.settings.require_auth:
            found = state.keys.lookup(key_from_request(request))
            if found is None:
                raise HTTPException(401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"})
            who, per_min = found
        else:
            who, per_min = f"ip:{request.client.host if request.client else '-'}", None
        wait_s = state.limiter.acquire(who, per_min)
        if wait_s > 0:
            state.metrics.rate_limited.inc()
            raise HTTPException(429, f"rate limit exceeded for key {who!r}",
                                headers={"Retry-After": retry_after_header(wait_s)})
        return who

    return require_key
