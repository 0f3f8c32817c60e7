"""Build the report email and hand it to an SMTP server (STARTTLS or SMTPS + auth).

The HTML body is the executive summary written for mail clients: inline styles only, no scripts,
no external images, a plain-text alternative; the PDF (and any other requested format) is
attached. The message is rendered once and stored in the outbox as bytes, so a retry sends exactly
the same message, Message-ID included (a receiver can drop a duplicate by it).
"""

from __future__ import annotations

import html
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Callable, Iterable

from phantom_report.reporter.render import RENDERERS

from .mailcheck import envelope_address, plaintext_auth_problem, subject_line
from .specio import SmtpConfig



def build_message(*, title: str, summary: str, recommendations: Iterable, to: Iterable[str],
                  cc: Iterable[str], subject: str | None, mail_from: str, outputs: dict[str, str],
                  attach: Iterable[str], dedupe_key: str, run_id: str) -> EmailMessage:
    """The report email: subject line, From/To/Cc, the summary and recommendations as text and
    HTML, the chosen output files attached, and a Message-ID derived from ``dedupe_key`` so a retried
    send is recognisable as the same message."""
    msg = EmailMessage()
    msg["Subject"] = subject_line(subject, title)
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
        maintype, subtype = (RENDERERS[fmt].media_type if fmt in RENDERERS else "application/octet-stream").split("/")
        data = Path(path).read_bytes()
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=Path(path).name)
    return msg


def wire_bytes(msg: EmailMessage) -> bytes:
    """RFC 5322 bytes with CRLF line ends: smtplib sends bytes as they are, and a server reading
    CRLF-terminated lines would see a message with bare LFs as one over-long line."""
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def recipients_of(to: Iterable[str], cc: Iterable[str]) -> list[str]:
    """The envelope: bare addresses (a display name belongs in the header only), each once."""
    return list(dict.fromkeys(envelope_address(a) for a in [*to, *cc]))


@dataclass(frozen=True)
class SendReceipt:
    """What the server answered when it accepted the message (for the delivery log)."""

    code: int
    response: str
    refused: dict[str, tuple[int, str]]  # recipients refused while others were accepted


class DeliveryFailed(Exception):
    """A send attempt failed. `permanent`: the server refused it with a 5xx (or the config can
    never work): retrying sends the same thing to the same answer. `possibly_sent`: the body was
    transmitted but no reply came back, so the server may have accepted it."""

    def __init__(self, message: str, *, permanent: bool = False, code: int | None = None,
                 response: str | None = None, possibly_sent: bool = False) -> None:
        super().__init__(message)
        self.permanent, self.code, self.response, self.possibly_sent = permanent, code, response, possibly_sent


def send_bytes(message: bytes, mail_from: str, recipients: list[str], smtp: SmtpConfig,
               password: str | None, timeout_s: float,
               on_data: Callable[[], None] | None = None) -> SendReceipt:
    """One SMTP session, step by step so every reply is known. `on_data` runs just before the
    message body goes out (the outbox commits that point). Raises `DeliveryFailed`, whose message
    never contains the password."""
    problem = plaintext_auth_problem(smtp)
    if problem:
        raise DeliveryFailed(problem, permanent=True)
    where = f"{smtp.host}:{smtp.port}"
    client = None
    try:
        client = _connect(smtp, timeout_s)
        if smtp.username:
            client.login(smtp.username, password or "")
        _expect(client.mail(envelope_address(mail_from)), (250,), where, "MAIL FROM")
        refused = _rcpt_all(client, recipients, where)
        _expect(client.docmd("DATA"), (354,), where, "DATA")
        if on_data is not None:
            on_data()
        receipt = _send_body(client, message, where, refused)
        try:
            client.quit()  # the message is accepted: a failed goodbye changes nothing
        except (smtplib.SMTPException, OSError):
            pass
        return receipt
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryFailed(f"{where}: SMTP authentication failed for {smtp.username!r}: "
                             f"{exc.smtp_code} {_text(exc.smtp_error)}", permanent=exc.smtp_code >= 500,
                             code=exc.smtp_code, response=_text(exc.smtp_error)) from None
    except smtplib.SMTPResponseException as exc:
        raise _refused(exc.smtp_code, exc.smtp_error, where, "connection") from None
    except smtplib.SMTPNotSupportedError as exc:  # no STARTTLS / AUTH offered: a config mismatch
        raise DeliveryFailed(f"{where}: {exc}", permanent=True) from None
    except ValueError as exc:  # a stored address that does not parse: it never will
        raise DeliveryFailed(f"{where}: {exc}", permanent=True) from None
    except (smtplib.SMTPException, OSError, socket.timeout, ssl.SSLError) as exc:
        raise DeliveryFailed(f"{where}: {type(exc).__name__}: {exc}") from None
    finally:
        _close(client)


def _connect(smtp: SmtpConfig, timeout_s: float) -> smtplib.SMTP:
    if smtp.smtps:
        ctx = ssl.create_default_context(cafile=smtp.ca_file)
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout_s, context=ctx)
        client.ehlo()
        return client
    client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout_s)
    client.ehlo()
    if smtp.starttls:
        client.starttls(context=ssl.create_default_context(cafile=smtp.ca_file))
        client.ehlo()
    return client


def _rcpt_all(client: smtplib.SMTP, recipients: list[str], where: str) -> dict[str, tuple[int, str]]:
    refused: dict[str, tuple[int, str]] = {}
    for rcpt in recipients:
        code, resp = client.rcpt(envelope_address(rcpt))
        if code not in (250, 251):
            refused[rcpt] = (code, _text(resp))
    if refused and len(refused) == len(recipients):
        # permanent only if every refusal is: one 4xx means a retry may get through
        permanent = all(code >= 500 for code, _ in refused.values())
        code, resp = next(iter(refused.values()))
        detail = "; ".join(f"{r}: {c} {t}" for r, (c, t) in refused.items())
        raise DeliveryFailed(f"{where}: all recipients refused: {detail}", permanent=permanent,
                             code=code, response=resp)
    return refused


def _send_body(client: smtplib.SMTP, message: bytes, where: str,
               refused: dict[str, tuple[int, str]]) -> SendReceipt:
    body = re.sub(rb"(?m)^\.", b"..", message)  # dot-stuffing (RFC 5321 4.5.2)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    client.send(body + b".\r\n")  # a failure here: the final dot never arrived, nothing accepted
    try:
        code, resp = client.getreply()
    except (smtplib.SMTPServerDisconnected, OSError, socket.timeout) as exc:
        raise DeliveryFailed(f"{where}: connection lost after the message was transmitted "
                             f"({type(exc).__name__}: {exc}); the server may have accepted it",
                             possibly_sent=True) from None
    if code != 250:
        raise _refused(code, resp, where, "end of DATA")
    return SendReceipt(code=code, response=_text(resp), refused=refused)


def _expect(reply: tuple[int, bytes], codes: tuple[int, ...], where: str, step: str) -> None:
    code, resp = reply
    if code not in codes:
        raise _refused(code, resp, where, step)


def _refused(code: int, resp: bytes | str, where: str, step: str) -> DeliveryFailed:
    text = _text(resp)
    kind = "permanently" if code >= 500 else "temporarily"
    return DeliveryFailed(f"{where}: {step} refused {kind}: {code} {text}", permanent=code >= 500,
                          code=code, response=text)


def _text(resp: bytes | str | None) -> str:
    if isinstance(resp, bytes):
        resp = resp.decode("utf-8", "replace")
    return " ".join(str(resp or "").split())[:500]


def _close(client: smtplib.SMTP | None) -> None:
    if client is not None:
        try:
            client.close()
        except OSError:
            pass


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
