"""Authentication (API key from a header, or a browser session cookie) and rate limits, as one
FastAPI dependency.

Valid keys are limited per key. Failed attempts (a missing, wrong or expired credential) are
limited per client address, so guessing keys or flooding with bad ones ends in 429 like any other
excess traffic.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from .apikeys import STALE
from .ratelimit import retry_after_header
from .state import ServiceState
from .uisessions import COOKIE, session_key_id


def key_from_request(request: Request) -> str | None:
    """The API key sent in `Authorization: Bearer` or `X-API-Key` (never from a cookie)."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def client_address(request: Request) -> str:
    """The client's IP address as the server sees it ("-" when unknown): the key of the failed-auth limiter."""
    return request.client.host if request.client else "-"


def identify(state: ServiceState, request: Request) -> tuple[str, int | None] | None:
    """(key name, per-key rate limit) for a valid API key or live session, else None."""
    key = key_from_request(request)
    if key:
        return state.keys.lookup(key)
    key_id = session_key_id(state.sessions, request.cookies.get(COOKIE))
    return None if key_id is None else state.keys.by_id(key_id)


async def identify_async(state: ServiceState, request: Request) -> tuple[str, int | None] | None:
    """`identify` without blocking the event loop: an API key is looked up in the cached key table
    inline (microseconds); only a table reload or a session cookie (database queries) goes to a
    thread, so the common request costs no thread hand-off."""
    key = key_from_request(request)
    if key:
        found = state.keys.cached_lookup(key)
        if found is not STALE:
            return found
    return await run_in_threadpool(identify, state, request)


def check_failed_attempt(state: ServiceState, request: Request) -> None:
    """Count a failed authentication against the client address; 429 once over the limit."""
    wait_s = state.failed_auth.acquire(client_address(request))
    if wait_s > 0:
        state.metrics.rate_limited.inc()
        raise HTTPException(429, "too many failed authentications from this address",
                            headers={"Retry-After": retry_after_header(wait_s)})


def make_auth(state: ServiceState):
    """The FastAPI dependency guarding /v1: a valid API key (Bearer header) or UI session, then the
    key's rate limit (429 with Retry-After); 401 without one while `require_auth` is set. Returns
    the caller's key name; with auth off, "ip:<client address>", rate-limited per address."""
    async def require_key(request: Request) -> str:
        # async: a sync dependency costs every request a hop to the thread pool and back
        if state.settings.require_auth:
            found = await identify_async(state, request)
            if found is None:
                check_failed_attempt(state, request)
                raise HTTPException(401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"})
            who, per_min = found
        else:
            who, per_min = f"ip:{client_address(request)}", None
        wait_s = state.limiter.acquire(who, per_min)
        if wait_s > 0:
            state.metrics.rate_limited.inc()
            raise HTTPException(429, f"rate limit exceeded for key {who!r}",
                                headers={"Retry-After": retry_after_header(wait_s)})
        return who

    return require_key
