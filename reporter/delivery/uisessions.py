"""Browser login sessions: the cookie holds a random token, never the API key.

The database keeps only the token's SHA-256 (like API keys: 256 random bits need no slow hash),
the key it was opened with and an expiry. Deleting the key ends its sessions.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete
from sqlalchemy.orm import sessionmaker

from .apikeys import hash_key
from .db import UiSession, as_utc, utcnow

COOKIE = "phantom_session"


def open_session(sessions: sessionmaker, api_key_id: int, ttl_s: float) -> str:
    """A new session token for the key `api_key_id`, valid for `ttl_s` seconds."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with sessions.begin() as s:
        s.execute(delete(UiSession).where(UiSession.expires_at < now))  # keep the table small
        s.add(UiSession(token_sha256=hash_key(token), api_key_id=api_key_id, created_at=now,
                        expires_at=now + dt.timedelta(seconds=ttl_s)))
    return token


def session_key_id(sessions: sessionmaker, token: str | None) -> int | None:
    """The key id a live session token stands for, else None."""
    if not token or len(token) > 200:
        return None
    with sessions() as s:
        row = s.get(UiSession, hash_key(token))
        if row is None or as_utc(row.expires_at) <= utcnow():
            return None
        return row.api_key_id


def close_session(sessions: sessionmaker, token: str | None) -> None:
    """End the UI session of ``token`` (logout); nothing happens for an unknown or missing token."""
    if token:
        with sessions.begin() as s:
            s.execute(delete(UiSession).where(UiSession.token_sha256 == hash_key(token)))
