"""Read a run spec for delivery: the reporter validates the report part (same messages as the CLI);
this module owns only the delivery-only keys of the `email` section (`cc`, `smtp`) until the
reporter's `Email` model carries them, and refuses passwords written into a spec.

The text goes through the same bounded YAML reader as the CLI (`reporter.yamlpos.load`: size,
depth, alias and UTF-8 limits), and `parse_spec` runs with its defaults, so a posted spec can never
name a `module:callable` model factory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from phantom_report.engine.limits import clip
from phantom_report.errors import SpecError
from phantom_report.reporter import yamlpos

# keys of `email` that delivery reads itself when the reporter's model does not know them
_DELIVERY_EMAIL_KEYS = ("cc", "smtp", "from")


class SmtpConfig(BaseModel):
    """How to reach the mail server. The password is never here: `password_env` names an
    environment variable (or an entry of the secrets file) that holds it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "localhost"
    port: int = Field(default=587, gt=0, lt=65536)
    starttls: bool = True
    username: str | None = None
    password_env: str | None = None
    ca_file: str | None = None  # a private CA for the server's certificate (system store otherwise)
    smtps: bool = False  # implicit TLS from the first byte (port 465); STARTTLS is then not used
    # AUTH sends the password; without TLS anyone on the path reads it, so it is refused unless set
    allow_plaintext_auth: bool = False


@dataclass(frozen=True)
class DeliverySpec:
    """A spec read for delivery: the RunSpec, the JSON-able copy stored in history and schedules (no
    secrets), and its email settings (recipients, subject, sender, SMTP, attachments, alerts)."""

    spec: Any  # reporter RunSpec
    stored: dict  # JSON-able spec for history/schedules, delivery keys included, no secrets
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str | None
    mail_from: str | None
    smtp: SmtpConfig | None
    attach: tuple[str, ...]


def parse_delivery_spec(text: str | bytes, filename: str = "<spec>", base_dir: str = ".") -> DeliverySpec:
    """Validate a spec for delivery (UTF-8 bytes or text); SpecError with a one-line message."""
    from phantom_report.reporter.spec import Email, parse_spec

    if isinstance(text, bytes):
        text = yamlpos.decode(text, filename)
    original = text
    data = _load_yaml(text, filename)
    email = data.get("email") if isinstance(data, dict) else None
    extra: dict[str, Any] = {}
    if isinstance(email, dict):
        own = [k for k in _DELIVERY_EMAIL_KEYS if k in email and k not in Email.model_fields]
        if own:
            extra = {k: email[k] for k in own}
            text = _blank_keys(text, filename, own)
    spec = parse_spec(text, filename=filename, base_dir=base_dir)
    smtp = _smtp(extra.get("smtp", getattr(spec.email, "smtp", None) if spec.email else None), original, filename)
    cc = extra.get("cc", getattr(spec.email, "cc", None) if spec.email else None) or []
    if not isinstance(cc, list) or len(cc) > 64 or not all(isinstance(a, str) and "@" in a and len(a) <= 200 for a in cc):
        raise SpecError(f"{filename}: email.cc: must be a list of email addresses")
    mail_from = extra.get("from", getattr(spec.email, "from_", None) if spec.email else None)
    stored = spec.as_dict()
    if spec.email is not None:
        stored["email"] = {**stored.get("email", {}), "cc": list(cc)}
        if smtp is not None:
            stored["email"]["smtp"] = smtp.model_dump(exclude_none=True)
        if mail_from:
            stored["email"]["from"] = mail_from
    return DeliverySpec(
        spec=spec, stored=stored,
        to=tuple(spec.email.to) if spec.email else (), cc=tuple(cc),
        subject=spec.email.subject if spec.email else None, mail_from=mail_from, smtp=smtp,
        attach=tuple(spec.email.attach) if spec.email else (),
    )


def load_run_spec(path: str | Path, *, allow_python: bool = False) -> Any:
    """`phantom-report run` and `spec check` of a spec file that may also carry the delivery keys of
    `email` (cc, smtp, from), as a spec written for `schedule add` does: those keys are checked
    here (no password in the spec, a valid smtp section) and left out of the report spec, whose
    validation and error lines are those of `reporter.spec.load_spec`."""
    from phantom_report.reporter.spec import Email, load_spec, parse_spec

    p = Path(path)
    text = yamlpos.read_bounded(p)
    data = _load_yaml(text, str(p))
    email = data.get("email") if isinstance(data, dict) else None
    own = [k for k in _DELIVERY_EMAIL_KEYS if isinstance(email, dict) and k in email and k not in Email.model_fields]
    if not own:
        return load_spec(p, allow_python=allow_python)
    _smtp(email.get("smtp"), text, str(p))
    try:
        base_dir = str(p.resolve().parent)
    except (OSError, RuntimeError):
        base_dir = str(p.parent)
    return parse_spec(_blank_keys(text, str(p), own), filename=str(p), base_dir=base_dir, allow_python=allow_python)


def spec_text_of(stored: dict) -> str:
    """Stored spec back to text for `parse_delivery_spec` (schedules re-validate on every run, so a
    spec that a newer version rejects fails loudly instead of running with stale meaning)."""
    return yaml.safe_dump(stored, sort_keys=False)


def _load_yaml(text: str, filename: str) -> Any:
    """The document, or None when it is not valid/bounded YAML (parse_spec then reports why, with
    its line). Never expands aliases beyond the loader's budget."""
    try:
        return yamlpos.load(text, filename)[0]
    except SpecError:
        return None


def _smtp(value: Any, text: str, filename: str) -> SmtpConfig | None:
    if value is None:
        return None
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict) and "password" in value:
        line = yamlpos.line_of(yamlpos.load(text)[1], ("email", "smtp", "password"))
        where = f"{filename}:{line}" if line else filename
        raise SpecError(f"{where}: email.smtp.password: passwords may not be written in a spec; "
                        "name an environment variable with `password_env` (or a secrets-file entry)")
    try:
        return SmtpConfig.model_validate(value)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        key = ".".join(str(p) for p in err["loc"])
        raise SpecError(f"{filename}: email.smtp{'.' + key if key else ''}: {clip(err['msg'], 200)}") from None


def _blank_keys(text: str, filename: str, keys: list[str]) -> str:
    """Remove `email.<key>` entries from the text, keeping every other line where it was so the
    reporter's error messages still point at the right line."""
    root = yamlpos.load(text)[1]
    email = next((v for k, v in root.value if k.value == "email"), None) if isinstance(root, yaml.MappingNode) else None
    if not isinstance(email, yaml.MappingNode) or email.flow_style:
        return _redump(text, keys)
    lines = text.splitlines(keepends=True)
    for knode, vnode in email.value:
        if knode.value in keys:
            first = knode.start_mark.line
            last = _last_line(vnode)
            for i in range(first, min(last, len(lines) - 1) + 1):
                lines[i] = "\n"
    return "".join(lines)


def _last_line(node: yaml.Node) -> int:
    """0-based last line a value occupies. A block collection's end mark is where the next key
    starts (blanking up to it would also erase that key, e.g. `subject:` after a block `cc:`
    list), so for those the deepest last child decides."""
    children = []
    if isinstance(node, yaml.MappingNode) and not node.flow_style:
        children = [n for pair in node.value for n in pair]
    elif isinstance(node, yaml.SequenceNode) and not node.flow_style:
        children = list(node.value)
    if children:
        return max(_last_line(c) for c in children)
    end = node.end_mark
    return end.line - 1 if end.column == 0 and end.line > node.start_mark.line else end.line


def _redump(text: str, keys: list[str]) -> str:
    data = yamlpos.load(text)[0]
    data["email"] = {k: v for k, v in data["email"].items() if k not in keys}
    return yaml.safe_dump(data, sort_keys=False)
