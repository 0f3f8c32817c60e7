"""Validation of what goes into email headers and the SMTP envelope, before anything is stored.

A subject or an address reaches a header verbatim; a CR or LF in it would either make the
`email` package refuse the whole message at send time (one bad schedule used to stop every other
schedule's email) or, with a laxer library, inject headers such as `Bcc:`. So every header value
is checked once, when a schedule is created, and again before each run for rows stored by older
versions.
"""

from __future__ import annotations

import unicodedata
from email.headerregistry import Address
from phantom_report.errors import SpecError

MAX_SUBJECT_CHARS = 250  # one readable line; RFC 5322 caps a header line at 998 octets
MAX_RECIPIENTS = 100
MAX_ADDRESS_CHARS = 320  # 64 local part + @ + 255 domain


def header_text_problem(value: object, max_chars: int) -> str | None:
    """Why `value` cannot be a header value, or None. Control characters include CR/LF and the
    Unicode line and paragraph separators that `str.splitlines` (used by the email package)
    breaks on."""
    if not isinstance(value, str):
        return f"expected text, got {type(value).__name__}"
    if len(value) > max_chars:
        return f"{len(value)} characters; at most {max_chars}"
    for ch in value:
        if ch != "\t" and unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            return f"contains the control character {ch!r} (line breaks are not allowed in a header)"
    return None


def check_subject(subject: object, where: str, key: str = "email.subject") -> None:
    """SpecError (file, key, problem) unless ``subject`` is a single-line header text within MAX_SUBJECT_CHARS."""
    problem = header_text_problem(subject, MAX_SUBJECT_CHARS)
    if problem:
        raise SpecError(f"{where}: {key}: {problem}")


def subject_line(subject: str | None, title: str) -> str:
    """The Subject header: the checked subject, else the report title on one line (a title may
    legitimately span lines in YAML; a header may not)."""
    if subject:
        return subject
    one_line = " ".join("".join(c if unicodedata.category(c)[0] != "C" else " " for c in title).split())
    return one_line[:MAX_SUBJECT_CHARS] or "phantom-report"


def parse_address(value: object) -> Address:
    """One RFC 5322 mailbox: `user@domain` or `Display Name <user@domain>`. Raises ValueError."""
    problem = header_text_problem(value, MAX_ADDRESS_CHARS)
    if problem:
        raise ValueError(problem)
    text = value.strip()
    name, spec = "", text
    if text.endswith(">") and "<" in text:
        name, _, spec = text[:-1].rpartition("<")
        name = name.strip().strip('"').strip()
    try:
        addr = Address(display_name=name, addr_spec=spec.strip())
    except Exception as exc:  # noqa: BLE001 - the parser raises several types (defects, IndexError)
        raise ValueError(f"not an email address ({exc or type(exc).__name__})") from None
    if not addr.username or not addr.domain or ".." in addr.domain or addr.domain.startswith("."):
        raise ValueError("not an email address (expected user@domain)")
    return addr


def check_addresses(values: object, where: str, key: str, *, required: bool) -> None:
    """SpecError (file, key, problem) unless ``values`` is a list of at most MAX_RECIPIENTS valid email
    addresses (at least one when ``required``)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
        raise SpecError(f"{where}: {key}: expected a list of email addresses")
    values = list(values)
    if required and not values:
        raise SpecError(f"{where}: {key}: at least one address is required")
    if len(values) > MAX_RECIPIENTS:
        raise SpecError(f"{where}: {key}: {len(values)} addresses; at most {MAX_RECIPIENTS}")
    for i, value in enumerate(values):
        try:
            parse_address(value)
        except ValueError as exc:
            raise SpecError(f"{where}: {key}[{i}]: {_shown(value)}: {exc}") from None


def envelope_address(value: str) -> str:
    """The bare `user@domain` for MAIL FROM / RCPT TO."""
    return parse_address(value).addr_spec


def plaintext_auth_problem(smtp) -> str | None:
    """AUTH over a connection without TLS sends the password readable to anyone on the path:
    refused unless the SMTP config says `allow_plaintext_auth: true`."""
    if not smtp.username or smtp.starttls or smtp.smtps or smtp.allow_plaintext_auth:
        return None
    return (f"email.smtp: refusing to send the password of {smtp.username!r} to {smtp.host}:{smtp.port} "
            "without TLS; set `starttls: true` (or `smtps: true` for port 465), or "
            "`allow_plaintext_auth: true` if the link to the server is trusted")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
