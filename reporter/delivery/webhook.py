"""Webhook delivery for alerts: the URL check made when a spec is loaded, and one bounded POST.

A webhook URL comes from a spec, so it is hostile input:

- only ``http://`` and ``https://`` with a host, no user:password part (it would land in logs and
  history), no whitespace or control characters, at most ``MAX_URL_CHARS``;
- every request has bounded connect/read/write timeouts, the answer a deadline of twice the read
  timeout, and the response body is read to at most ``MAX_RESPONSE_BYTES`` (only its start is
  kept for the delivery log);
- the host must resolve to public addresses only: a spec (posted to the service, or a schedule)
  must not make the server POST to its own loopback, private network, link-local (cloud metadata
  at 169.254.169.254) or other non-global addresses; the operator allows such hosts explicitly
  (``DeliverySettings.webhook_private_hosts``, env ``PHANTOM_WEBHOOK_PRIVATE_HOSTS=1``) for an
  in-house receiver. Checked when sending (names can change between spec load and delivery);
- redirects are never followed to another scheme, host or port; a 307/308 to the same origin is
  followed at most ``MAX_REDIRECTS`` times (a 301/302/303 would turn the POST into a GET, so it is
  refused).

Outcomes map onto the outbox's (reporter/delivery/outbox.py) through ``mail.DeliveryFailed``:
2xx sent; connection refused, 408, 429 and 5xx retried with backoff; other 4xx and refused
redirects dead at once; a connection lost after the body went out is ``possibly_sent``.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from urllib.parse import urljoin, urlsplit

import httpx

from .mail import DeliveryFailed, SendReceipt

MAX_URL_CHARS = 2048
MAX_RESPONSE_BYTES = 64 * 1024
MAX_REDIRECTS = 3
CONNECT_TIMEOUT_S = 5.0
_ANSWER_DEADLINE_FACTOR = 2  # the whole answer within 2x the per-read timeout
_RETRY_CODES = {408, 425, 429}
_BAD_CHARS = re.compile(r"[\s\x00-\x1f\x7f]")


def check_webhook_url(url: str) -> str:
    """The URL unchanged if it is an http(s) URL with a host (see the module docstring); raises
    ValueError with what is wrong (the spec loader adds file, line and key)."""
    from phantom_report.engine.limits import show

    if not isinstance(url, str) or not url:
        raise ValueError("must be an http:// or https:// URL")
    if len(url) > MAX_URL_CHARS:
        raise ValueError(f"is {len(url):,} characters long; webhook URLs may have at most {MAX_URL_CHARS:,}")
    if _BAD_CHARS.search(url):
        raise ValueError(f"must not contain spaces or control characters, got {show(url)}")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a non-numeric or out-of-range port
    except ValueError:
        raise ValueError(f"is not a valid URL, got {show(url)}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"must be an http:// or https:// URL, got {show(url)}")
    if not parts.hostname:
        raise ValueError(f"must name a host (http://host/path), got {show(url)}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry a user name or password (user:pass@host); they would be stored in "
                         "run history and logs")
    if port == 0:
        raise ValueError(f"has port 0, got {show(url)}")
    return url


def _origin(url: str) -> tuple[str, str, int | None]:
    p = urlsplit(url)
    return p.scheme.lower(), (p.hostname or "").lower(), p.port or (443 if p.scheme.lower() == "https" else 80)


def check_public_host(url: str) -> None:
    """Raise a permanent DeliveryFailed unless every address the URL's host resolves to is global
    (see the module docstring: no loopback, private, link-local, multicast or reserved targets)."""
    _, host, port = _origin(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise DeliveryFailed(f"webhook {where(url)}: host name does not resolve") from None
    for info in infos:
        addr = ipaddress.ip_address(info[4][0].split("%")[0])
        if not addr.is_global:
            raise DeliveryFailed(f"webhook {where(url)}: refused, {addr} is not a public address (set "
                                 "PHANTOM_WEBHOOK_PRIVATE_HOSTS=1 to allow in-house receivers)", permanent=True)


def post_json(url: str, body: bytes, timeout_s: float, *, private_hosts: bool = False) -> SendReceipt:
    """POST ``body`` (JSON bytes) to ``url``; a SendReceipt on 2xx, else DeliveryFailed.
    ``private_hosts`` lets the host resolve to non-public addresses (an operator's choice)."""
    check_webhook_url(url)
    if not private_hosts:
        check_public_host(url)
    timeout = httpx.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s))
    target = url
    with httpx.Client(follow_redirects=False, timeout=timeout, trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            code, text, location = _post_once(client, target, body)
            if code in (307, 308) and location:
                nxt = urljoin(target, location)
                if _origin(nxt) != _origin(url):
                    raise DeliveryFailed(f"webhook {where(url)}: redirect to another host or scheme refused "
                                         f"({code} to {where(nxt)})", permanent=True, code=code, response=text)
                target = nxt
                continue
            return _outcome(url, code, text)
    raise DeliveryFailed(f"webhook {where(url)}: more than {MAX_REDIRECTS} redirects", permanent=True)


def _post_once(client: httpx.Client, url: str, body: bytes) -> tuple[int, str, str | None]:
    """(status, start of the response text, Location header) of one POST, the body read to at
    most MAX_RESPONSE_BYTES."""
    try:
        with client.stream("POST", url, content=body, headers={"Content-Type": "application/json",
                                                                "User-Agent": "phantom-report-alerts"}) as resp:
            data = b""
            # each read has its timeout; the whole answer also has a deadline, so a server that
            # trickles a byte at a time cannot hold the sender
            deadline = time.monotonic() + _ANSWER_DEADLINE_FACTOR * client.timeout.read
            for chunk in resp.iter_bytes():
                data += chunk[:MAX_RESPONSE_BYTES - len(data)]
                if len(data) >= MAX_RESPONSE_BYTES or time.monotonic() > deadline:
                    break
            return resp.status_code, data[:500].decode("utf-8", "replace"), resp.headers.get("location")
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise DeliveryFailed(f"webhook {where(url)}: cannot connect: {type(exc).__name__}") from None
    except httpx.HTTPError as exc:  # the request may have reached the server
        raise DeliveryFailed(f"webhook {where(url)}: no complete answer: {type(exc).__name__}",
                             possibly_sent=True) from None


def _outcome(url: str, code: int, text: str) -> SendReceipt:
    if 200 <= code < 300:
        return SendReceipt(code=code, response=text, refused={})
    permanent = not (code >= 500 or code in _RETRY_CODES)
    raise DeliveryFailed(f"webhook {where(url)}: HTTP {code}", permanent=permanent, code=code, response=text)


def where(url: str) -> str:
    """scheme://host:port of a URL, for messages (the path of an incoming-webhook URL is its secret)."""
    scheme, host, port = _origin(url)
    return f"{scheme}://{host}:{port}"
