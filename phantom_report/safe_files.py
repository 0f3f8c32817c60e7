"""Reading files a user named, safely: one rule for where they may lie and how much is read.

A file's *real* path (symlinks resolved) must lie inside one of the allowed directories, so a symlink
planted in an allowed directory cannot point out of it; and it is read only if it is a regular file
of bounded size, checked on the open descriptor. The reporter applies it to templates, stylesheets
and logos; the engine to the Hugging Face configs a measurement CSV names.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable


def real_dirs(dirs: Iterable[str | Path]) -> list[Path]:
    """The real paths (symlinks resolved) of ``dirs``, duplicates dropped, order kept."""
    return list(dict.fromkeys(Path(os.path.realpath(d)) for d in dirs))


def inside(path: str | Path, dirs: Iterable[str | Path]) -> bool:
    """True when the real path of ``path`` is one of ``dirs`` (real paths) or below one of them."""
    real = Path(os.path.realpath(path))
    return any(real == d or d in real.parents for d in real_dirs(dirs))


def read_regular_file(path: str | Path, max_bytes: int) -> bytes:
    """The bytes of ``path`` (real path), refusing anything but a regular file of at most
    ``max_bytes`` (ValueError saying why): a FIFO or device would block or never end. The file is
    opened non-blocking and checked on the open descriptor, so it cannot be swapped in between."""
    fd = os.open(os.path.realpath(path), os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("is not a regular file")
        if st.st_size > max_bytes:
            raise ValueError(f"is {st.st_size:,} bytes; at most {max_bytes:,} allowed")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew after the stat
        raise ValueError(f"is over {max_bytes:,} bytes")
    return data
