"""Where phantom-report keeps what it can recompute: one cache home, private to the user.

``$XDG_CACHE_HOME/phantom-report`` (``~/.cache/phantom-report`` when unset). The price cache
(pricing/cache.py) and the compiled built-in templates (reporter/template_cache.py) live below it.
A cache folder is used only when it is the user's own and nobody else can write to it: files read
back from it are trusted (compiled template code is executed), so a folder another user could
plant files in is refused and the caller works without a cache.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def cache_home() -> Path:
    """``$XDG_CACHE_HOME/phantom-report``, or ``~/.cache/phantom-report``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "phantom-report"


def private_dir(path: Path) -> Path | None:
    """``path`` created (with its parents) as a folder only its owner can enter, or None when it
    cannot be created or is not safe to trust: not a real folder (a symlink is refused), owned by
    another user, or writable by group or others."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return None
    return path
