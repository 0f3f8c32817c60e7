"""Writing one file atomically: readers see the old file or the new one, never half of either.

The bytes go to a fresh temp file in the target's directory (so the rename stays on one file
system), are flushed to disk, and the temp file is renamed over the target; on any failure the temp
file is removed and the target is untouched. Two writers never share a temp file. A set of files
that must change together is a different job: ``reporter/outputs.py`` stages and swaps the set.
"""

from __future__ import annotations

import os
from pathlib import Path

_PUBLIC_MODE = 0o666  # the umask applies, as for open(path, "w")
_PRIVATE_MODE = 0o600


def write_atomic(path: str | Path, data: str | bytes, *, private: bool = False) -> Path:
    """Replace ``path`` with ``data`` (text is written as UTF-8) atomically; creates missing parent
    directories. ``private=True`` makes a new file readable by its owner only (0600, what
    ``tempfile.mkstemp`` gives), for caches and service state; otherwise the umask applies.
    Returns ``path``."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, fd = _open_temp(path, _PRIVATE_MODE if private else _PUBLIC_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _open_temp(path: Path, mode: int) -> tuple[Path, int]:
    """A new, exclusively created temp file beside ``path`` (hidden, ``.tmp`` suffix)."""
    for _ in range(16):
        # os.urandom is what secrets.token_hex reads; importing secrets (hashlib, hmac) costs a cold CLI ~9 ms
        tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:  # 48 random bits collided: draw again
            continue
    raise FileExistsError(f"cannot create a temp file beside {path}")
