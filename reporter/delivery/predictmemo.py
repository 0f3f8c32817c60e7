"""A bounded memo of /v1/predict answers: the same configuration asked again (a dashboard polling
the same few points) is answered from memory instead of the engine.

An `Engine` is immutable and `Engine.predict` is a pure function of its arguments, so the JSON of
a request's answer depends only on (engine, request); the memo stores that JSON (bytes, already
NaN-free) per request and is emptied whenever the service serves a different engine (a profile
hot reload), so an answer is never one of a catalog no longer served. Least recently used entries
are dropped beyond `max_entries`. Errors are not stored (they are cheap and may carry context).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable

from phantom_report.jsonsafe import to_jsonable

DEFAULT_MAX_ENTRIES = 4096  # a few MB at ~1.5 kB per answer; far more points than a dashboard shows


def encode_prediction(prediction: dict) -> bytes:
    """The JSON bytes the API answers for one `Engine.predict` result (NaN/inf as null)."""
    return json.dumps(to_jsonable(prediction), separators=(",", ":"), allow_nan=False).encode("utf-8")


class PredictMemo:
    """LRU map (engine, request key) -> answer bytes, at most `max_entries` entries, for one engine
    at a time. Thread-safe: the endpoint may run on the event loop or on a pool thread."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.max_entries = max(1, int(max_entries))
        self._lock = threading.Lock()
        self._engine: Any = None
        self._answers: OrderedDict[Hashable, bytes] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._answers)

    def answer(self, engine: Any, key: Hashable, compute: Callable[[], dict]) -> bytes:
        """The stored answer for `key` under `engine`, else `compute()` encoded, stored and returned.
        `compute` runs outside the lock (two threads asking the same new key both compute it; the
        results are equal, so either may be kept)."""
        with self._lock:
            if engine is self._engine:
                hit = self._answers.get(key)
                if hit is not None:
                    self._answers.move_to_end(key)
                    self.hits += 1
                    return hit
        body = encode_prediction(compute())
        with self._lock:
            self.misses += 1
            if engine is not self._engine:  # a reloaded catalog: nothing stored so far applies
                self._engine, self._answers = engine, OrderedDict()
            self._answers[key] = body
            self._answers.move_to_end(key)
            while len(self._answers) > self.max_entries:
                self._answers.popitem(last=False)
        return body
