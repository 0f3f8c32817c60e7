"""Write the files of one report run all-or-nothing.

Every file is first written in full into a staging directory *inside* the output directory (same
file system, so the moves below are renames that cannot fail half-way through a file). Only then
are they moved into place, each replaced file first moved aside into the staging directory; if any
move fails, every file already moved is put back, so the output directory holds either the
complete new set or the complete previous one, never a mix. A write failure (disk full, file size
limit, a directory where report.md should be) is one OutputError line and changes nothing.

The only window left is a process killed between two renames (microseconds): then the staging
directory (``.phantom-report-staging-*``) still holds the previous files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Mapping

from phantom_report.errors import OutputError

STAGING_PREFIX = ".phantom-report-staging-"
NAME_MAX_BYTES = 255  # one path component on every common file system


def check_dir(out_dir: Path) -> None:
    """Fail early, without creating anything, when ``out_dir`` cannot be a directory (it, or the
    nearest existing parent, is a file; the name is too long)."""
    long = [p for p in out_dir.parts if len(os.fsencode(p)) > NAME_MAX_BYTES]
    if long:
        raise OutputError(f"output directory {str(out_dir)[:120]}...: a path component of {len(long[0])} "
                          f"characters; at most {NAME_MAX_BYTES} bytes")
    probe = out_dir
    try:
        while not os.path.lexists(probe) and probe.parent != probe:
            probe = probe.parent
        if os.path.lexists(probe) and not probe.is_dir():
            raise OutputError(f"output directory {out_dir}: {probe} is a file, not a directory")
    except OSError as exc:
        raise OutputError(f"output directory {str(out_dir)[:200]}: {exc.strerror or exc}") from None


def prepare_dir(out_dir: Path) -> None:
    """Create ``out_dir`` (and parents), or say in one line why it cannot be."""
    check_dir(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"output directory {out_dir}: cannot create it: {exc.strerror or exc}") from None


def write_outputs(out_dir: Path, files: Mapping[str, bytes]) -> dict[str, Path]:
    """Write ``files`` (file name -> content) into ``out_dir`` together or not at all; returns
    name -> path. Raises OutputError, leaving the previous files untouched."""
    prepare_dir(out_dir)
    for name in files:
        target = out_dir / name
        if os.path.lexists(target) and (target.is_dir() and not target.is_symlink()):
            raise OutputError(f"cannot write {target}: a directory is in the way (no output was changed)")
    try:
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir))
    except OSError as exc:
        raise OutputError(f"cannot write into {out_dir}: {exc.strerror or exc}") from None
    try:
        _stage(staging, files)
        _swap_in(staging, out_dir, list(files))
    except _PreviousKept:
        raise  # the staging directory holds the only copy of the previous files now
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return {name: out_dir / name for name in files}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _stage(staging: Path, files: Mapping[str, bytes]) -> None:
    # mkstemp/mkdtemp are private (0600/0700); reports are meant to be shared, so apply the umask
    mode = 0o666 & ~_umask()
    for name, data in files.items():
        try:
            with open(staging / name, "wb") as fh:
                os.fchmod(fh.fileno(), mode)
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise OutputError(f"cannot write {staging.parent / name}: {exc.strerror or exc} "
                              "(no output was changed)") from None


class _PreviousKept(OutputError):
    """Moving in failed and so did putting the previous files back: they stay in staging."""


def _swap_in(staging: Path, out_dir: Path, names: list[str]) -> None:
    """Move the staged files into place, or put every previous file back and raise."""
    aside = staging / ".previous"
    aside.mkdir()
    done: list[tuple[str, bool]] = []  # (name, had a previous file)
    try:
        for name in names:
            target = out_dir / name
            had = os.path.lexists(target)
            if had:
                os.replace(target, aside / name)
            done.append((name, had))
            os.replace(staging / name, target)
    except OSError as exc:
        why = f"cannot move {name} into {out_dir}: {exc.strerror or exc}"
        if _roll_back(aside, out_dir, done):
            raise OutputError(f"{why} (the previous outputs were restored)") from None
        raise _PreviousKept(f"{why}; restoring the previous outputs failed too, they are in {aside}") from None


def _roll_back(aside: Path, out_dir: Path, done: list[tuple[str, bool]]) -> bool:
    ok = True
    for name, had in reversed(done):
        target = out_dir / name
        try:
            if had:
                os.replace(aside / name, target)
            elif os.path.lexists(target):
                os.unlink(target)
        except OSError:
            ok = False
    return ok
