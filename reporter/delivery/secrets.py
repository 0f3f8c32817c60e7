"""Passwords come from the environment or a secrets file, never from specs or the database.

The secrets file holds `NAME=value` lines (blank lines and `#` comments ignored). It must not be
readable by other users, the same rule ssh applies to private keys.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from phantom_report.errors import PhantomError


class SecretError(PhantomError):
    """A named secret is missing or the secrets file is unsafe."""


def resolve_secret(name: str, secrets_file: Path | None) -> str:
    """The secret named ``name`` (an SMTP password): from the environment, else from the secrets file;
    SecretError naming both places when it is in neither."""
    value = os.environ.get(name)
    if value:
        return value
    if secrets_file is not None:
        entries = read_secrets_file(secrets_file)
        if name in entries:
            return entries[name]
    where = f" or in {secrets_file}" if secrets_file else " (or set PHANTOM_SECRETS_FILE)"
    raise SecretError(f"secret {name!r} is not set in the environment{where}")


# A schedule posted over the API names its SMTP password by `password_env` too. Were any name
# allowed, a poster could aim the mail client at their own server and have the service send, as
# the AUTH password, any environment variable it holds (cloud keys included). So a posted schedule
# may name only what the operator set aside for mail: a secrets-file entry or PHANTOM_SMTP_*.
POSTED_SECRET_PREFIX = "PHANTOM_SMTP_"


def posted_secret_problem(name: str, secrets_file: Path | None) -> str | None:
    """Why a schedule posted over the API may not use secret ``name`` (None when it may)."""
    if name.startswith(POSTED_SECRET_PREFIX):
        return None
    if secrets_file is not None and name in read_secrets_file(secrets_file):
        return None
    return (f"a schedule posted over the API may name only a secrets-file entry or an environment "
            f"variable starting with {POSTED_SECRET_PREFIX} (got {name!r})")


def read_secrets_file(path: Path) -> dict[str, str]:
    """NAME=value lines of a secrets file as a dict; SecretError when it cannot be read, is readable
    by group or others (chmod 600), or has a malformed line."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretError(f"{path}: cannot read secrets file: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(f"{path}: secrets file is readable by others; chmod 600 it")
    out: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise SecretError(f"{path}:{lineno}: expected NAME=value")  # the value is not echoed
        key, value = line.split("=", 1)
        out[key.strip()] = value.strip()
    return out
