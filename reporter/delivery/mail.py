"""Build the report email and hand it to an SMTP server (STARTTLS + auth).

The HTML body is the executive summary written for mail clients: inline styles only, no scripts,
no external images, a plain-text alternative; the PDF (and any other requested format) is
attached. The message is rendered once and stored in the outbox as bytes, so a retry sends exactly
the same message, Message-ID included (a receiver can drop a duplicate by it).
"""

from __future__ import annotations

import html
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Iterable

from .specio import SmtpConfig

_MIME = {
    "pdf": ("application", "pdf"),
    "html": ("text", "html"),
    "md": ("text", "markdown"),
    "json": ("application", "json"),
    "csv": ("text", "csv"),
}


def build_message(*, title: str, summary: str, recommendations: Iterable, to: Iterable[str],
                  cc: Iterable[str], subject: str | None, mail_from: str, outputs: dict[str, str],
                  attach: Iterable[str], dedupe_key: str, run_id: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject or title
    msg["From"] = mail_from
    msg["To"] = ", ".join(to)
    cc = list(cc)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    # stable per scheduled run: the same key always yields the same id
    domain = mail_from.rsplit("@", 1)[-1] if "@" in mail_from else "phantom-report.local"
    msg["Message-ID"] = make_msgid(idstring=_safe_id(dedupe_key), domain=domain)
    msg["X-Phantom-Run"] = run_id
    recs = [_rec_text(r) for r in recommendations or []]
    msg.set_content(_plain(title, summary, recs))
    msg.add_alternative(_html(title, summary, recs), subtype="html")
    for fmt in attach:
        path = outputs.get(fmt)
        if not path:
            continue
        maintype, subtype = _MIME.get(fmt, ("application", "octet-stream"))
        data = Path(path).read_bytes()
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=Path(path).name)
    return msg


def wire_bytes(msg: EmailMessage) -> bytes:
    """RFC 5322 bytes with CRLF line ends: smtplib sends bytes as they are, and a server reading
    CRLF-terminated lines would see a message with bare LFs as one over-long line."""
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def recipients_of(to: Iterable[str], cc: Iterable[str]) -> list[str]:
    return list(dict.fromkeys([*to, *cc]))


def send_bytes(message: bytes, mail_from: str, recipients: list[str], smtp: SmtpConfig,
               password: str | None, timeout_s: float) -> None:
    """One SMTP session. Raises `DeliveryFailed` with a message that never contains the password."""
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=timeout_s) as client:
            client.ehlo()
            if smtp.starttls:
                ctx = ssl.create_default_context(cafile=smtp.ca_file)
                client.starttls(context=ctx)
                client.ehlo()
            if smtp.username:
                client.login(smtp.username, password or "")
            refused = client.sendmail(mail_from, recipients, message)
            if refused and len(refused) == len(recipients):
                raise DeliveryFailed(f"all recipients refused: {sorted(refused)}")
    except DeliveryFailed:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryFailed(f"SMTP authentication failed for {smtp.username!r}: {exc.smtp_code}") from None
    except (smtplib.SMTPException, OSError, socket.timeout, ssl.SSLError) as exc:
        raise DeliveryFailed(f"{smtp.host}:{smtp.port}: {type(exc).__name__}: {exc}") from None


class DeliveryFailed(Exception):
    """A send attempt failed; the outbox keeps the message and retries."""


def _safe_id(key: str) -> str:
    return "".join(c if c.isalnum() else "." for c in key)[:120]


def _rec_text(rec) -> str:
    if isinstance(rec, str):
        return rec
    if isinstance(rec, dict):
        for key in ("text", "reason", "summary", "headline", "message"):
            if isinstance(rec.get(key), str):
                return rec[key]
        return ", ".join(f"{k}: {v}" for k, v in rec.items() if not isinstance(v, (dict, list)))
    for attr in ("text", "reason", "summary", "headline"):
        if isinstance(getattr(rec, attr, None), str):
            return getattr(rec, attr)
    return str(rec)


def _plain(title: str, summary: str, recs: list[str]) -> str:
    lines = [title, "=" * len(title), "", summary or "", ""]
    if recs:
        lines += ["Recommendations:"] + [f"  - {r}" for r in recs]
    lines += ["", "The full report is attached."]
    return "\n".join(lines) + "\n"


def _html(title: str, summary: str, recs: list[str]) -> str:
    esc = html.escape
    items = "".join(f'<li style="margin:0 0 6px 0">{esc(r)}</li>' for r in recs)
    rec_block = (f'<h2 style="font-size:16px;margin:18px 0 8px 0">Recommendations</h2>'
                 f'<ul style="padding-left:20px;margin:0">{items}</ul>') if recs else ""
    return (
        '<!DOCTYPE html><html><body style="margin:0;padding:0;background:#ffffff">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">'
        '<tr><td style="padding:20px;font-family:Arial,Helvetica,sans-serif;font-size:14px;'
        'line-height:1.5;color:#1a1a1a;max-width:640px">'
        f'<h1 style="font-size:20px;margin:0 0 12px 0;color:#1f4e79">{esc(title)}</h1>'
        f'<p style="margin:0 0 12px 0">{esc(summary or "")}</p>{rec_block}'
        '<p style="margin:18px 0 0 0;color:#555555;font-size:12px">The full report is attached as PDF.</p>'
        '</td></tr></table></body></html>'
    )
