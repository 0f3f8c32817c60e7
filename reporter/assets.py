"""Files a report may read besides the spec: the rule for where they may come from, and the logo.

One rule for every file a spec or template can name (template files, PDF stylesheets and images,
the logo), phantom_report/safe_files.py: its *real* path (symlinks resolved) must lie inside one of
the allowed directories, so a symlink planted in a template directory cannot point out of it. The logo is also size-bounded and
checked by content, not only by extension, before it is embedded as a ``data:`` URI.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Iterable

from phantom_report.errors import SpecError
from phantom_report.safe_files import inside, read_regular_file

MAX_LOGO_BYTES = 1_000_000  # a logo is a few KB; a megabyte is already generous
# content signature -> (mime type, extensions that may carry it)
_LOGO_TYPES = {
    "png": ("image/png", (".png",)),
    "jpeg": ("image/jpeg", (".jpg", ".jpeg")),
    "svg": ("image/svg+xml", (".svg",)),
}


def _sniff(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml", b"<!--", b"<!doctype svg")) and b"<svg" in head.lower():
        return "svg"
    return None


def logo_data_uri(logo: str, resolved: Path, allowed_dirs: Iterable[Path], allowed_what: str, where: str) -> str:
    """``logo`` (as written in the spec, resolved to ``resolved``) as a ``data:`` URI.

    Refused unless the file's real path is inside ``allowed_dirs`` (described to the user as
    ``allowed_what``, without listing server paths), it is a regular file of at most MAX_LOGO_BYTES,
    and its content is a PNG, JPEG or SVG matching its extension. ``where`` names the spec."""
    key = f"{where}: report.logo"
    if not inside(resolved, allowed_dirs):
        raise SpecError(f"{key}: {logo} is not inside {allowed_what} (symlinks are resolved)")
    try:
        data = read_regular_file(resolved, MAX_LOGO_BYTES)
    except OSError as exc:
        raise SpecError(f"{key}: cannot read {logo}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SpecError(f"{key}: {logo} {exc}") from None
    kind = _sniff(data[:512])
    ext = Path(logo).suffix.lower()
    if kind is None or ext not in _LOGO_TYPES[kind][1]:
        raise SpecError(f"{key}: {logo} must be a PNG (.png), JPEG (.jpg) or SVG (.svg) image whose content "
                        f"matches its extension")
    return f"data:{_LOGO_TYPES[kind][0]};base64," + base64.b64encode(data).decode("ascii")
