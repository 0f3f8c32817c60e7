"""API keys: 32 random bytes shown once, stored only as SHA-256.

A plain (fast) hash is the right tool here, unlike for passwords: the keys are generated with
256 bits of entropy, so nobody can brute-force them from the hash, and a slow KDF would cost every
request tens of milliseconds.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from phantom_report.errors import PhantomError

from .db import ApiKey, utcnow

KEY_PREFIX = "phr_"
STALE = object()  # `KeyStore.cached_lookup`: the cached table must be reloaded (or is being) first


def hash_key(key: str) -> str:
    """The SHA-256 hex digest of an API key: the only form in which keys are stored or compared."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(sessions: sessionmaker, name: str, rate_limit_per_min: int | None = None) -> str:
    """Create an API key named ``name`` (unique; PhantomError otherwise) with an optional per-key
    rate limit in requests per minute; returns the key itself, which is shown once and stored only hashed."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with sessions.begin() as s:
        if s.scalar(select(ApiKey.id).where(ApiKey.name == name)):
            raise PhantomError(f"an API key named {name!r} exists; pick another name")
        s.add(ApiKey(name=name, key_sha256=hash_key(key), rate_limit_per_min=rate_limit_per_min,
                     created_at=utcnow()))
    return key


class KeyStore:
    """Looks keys up by hash in a cached copy of the key table, so a request costs no query.

    The copy is refreshed every `refresh_s`; an unknown key (one created a moment ago by
    `serve --add-key` in another process, or a wrong one) reloads it at most once per
    `miss_reload_s`, so a stream of invalid keys cannot turn into a stream of queries."""

    def __init__(self, sessions: sessionmaker, refresh_s: float = 5.0, miss_reload_s: float = 1.0) -> None:
        self._sessions = sessions
        self._refresh_s = refresh_s
        self._miss_reload_s = miss_reload_s
        self._lock = threading.Lock()
        self._id_by_hash: dict[str, int] = {}
        self._by_id: dict[int, tuple[str, int | None]] = {}
        self._loaded_at = float("-inf")
        self.reloads = 0

    def lookup(self, key: str | None) -> tuple[str, int | None] | None:
        """(name, per-key rate limit) for a valid key, else None."""
        key_id = self.key_id(key)
        return None if key_id is None else self.by_id(key_id)

    def key_id(self, key: str | None) -> int | None:
        """The table id of a valid key, else None."""
        if not key:
            return None
        digest = hash_key(key)
        with self._lock:
            age_s = time.monotonic() - self._loaded_at
            if age_s > self._refresh_s or (digest not in self._id_by_hash and age_s > self._miss_reload_s):
                self._reload()
            return self._id_by_hash.get(digest)

    def cached_lookup(self, key: str | None) -> tuple[str, int | None] | None | object:
        """Like `lookup`, but never touching the database (safe on the event loop): `STALE` when the
        answer needs a reload of the key table first, or another thread holds the table right now."""
        if not key:
            return None
        digest = hash_key(key)
        if not self._lock.acquire(blocking=False):
            return STALE
        try:
            age_s = time.monotonic() - self._loaded_at
            if age_s > self._refresh_s or (digest not in self._id_by_hash and age_s > self._miss_reload_s):
                return STALE
            key_id = self._id_by_hash.get(digest)
            return None if key_id is None else self._by_id.get(key_id)
        finally:
            self._lock.release()

    def by_id(self, key_id: int) -> tuple[str, int | None] | None:
        """(name, per-key rate limit) of a key still in the table (sessions refer to keys by id)."""
        with self._lock:
            if time.monotonic() - self._loaded_at > self._refresh_s:
                self._reload()
            return self._by_id.get(key_id)

    def _reload(self) -> None:
        with self._sessions() as s:
            rows = s.execute(select(ApiKey.id, ApiKey.key_sha256, ApiKey.name, ApiKey.rate_limit_per_min)).all()
        self._id_by_hash = {h: i for i, h, _n, _r in rows}
        self._by_id = {i: (n, r) for i, _h, n, r in rows}
        self._loaded_at = time.monotonic()
        self.reloads += 1
