"""Bounds on what one request may cost: the body size (plain ASGI middleware that checks
Content-Length up front and also counts a chunked body as it streams, so a client cannot get round
the limit by omitting the header), the length of error messages, and CPU-bound validation work."""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor


class BodySizeLimit:
    """ASGI middleware refusing a request body over ``max_bytes`` with 413, counting bytes as they
    arrive (a missing or lying Content-Length does not get a larger body through)."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                return await self._reject(send)
        seen = 0
        too_big = False

        async def counting_receive():
            nonlocal seen, too_big
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_big = True
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _TooLarge:
            await self._reject(send)

    async def _reject(self, send) -> None:
        body = json.dumps({"detail": f"request body larger than {self.max_bytes} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


MAX_ERROR_CHARS = 2000  # an error message stored in history or returned by the API


def bounded_message(message: str, max_chars: int = MAX_ERROR_CHARS) -> str:
    """`message` cut to `max_chars` (a hostile input can make an error message huge: it must not
    fill the database, the history page or a response)."""
    message = str(message)
    if len(message) <= max_chars:
        return message
    return f"{message[:max_chars]}… [{len(message) - max_chars} more characters cut]"


class BoundedWork:
    """CPU-bound request work (validating a posted spec) off the event loop, at most `slots` at a
    time and answered within `timeout_s`, so one hostile body cannot stall every other request.

    A thread cannot be stopped: past the timeout the client gets an answer and the slot stays
    taken until the thread ends, which is what keeps a flood of slow bodies bounded."""

    def __init__(self, slots: int, timeout_s: float) -> None:
        self._slots = threading.BoundedSemaphore(max(1, slots))
        # its own threads: the event loop's default executor is shared with other work and is
        # joined when a loop closes
        self._threads = ThreadPoolExecutor(max(1, slots), thread_name_prefix="spec-check")
        self.timeout_s = timeout_s

    async def run(self, fn, *args):
        """``fn(*args)`` on a bounded thread: 503 with Retry-After when every slot is busy, 422 when it
        takes longer than the timeout (the spec is too large or too deep); its result or exception otherwise."""
        from fastapi import HTTPException

        if not self._slots.acquire(blocking=False):
            raise HTTPException(503, "too many requests being validated; retry shortly", headers={"Retry-After": "2"})

        def call():
            try:
                return fn(*args)
            finally:
                self._slots.release()

        future = asyncio.get_running_loop().run_in_executor(self._threads, call)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout_s)
        except asyncio.TimeoutError:
            raise HTTPException(422, f"request: validating the spec took longer than {self.timeout_s:g} s; "
                                     "it is too large or too deeply nested") from None
