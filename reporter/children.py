"""Helper processes started ahead of need: a module run as `python -m` that imports its heavy
library (WeasyPrint, matplotlib) while the report's numbers are computed, then answers one request
on stdin. One home for starting and stopping them (reporter/pdf.py, reporter/mplchild.py)."""

from __future__ import annotations

import subprocess
import sys


def start(module: str, *, keep_stderr: bool) -> subprocess.Popen:
    """`python -m module` with pipes for its one request and answer; ``keep_stderr`` pipes its
    error output to the caller (who reports it), else it is discarded."""
    return subprocess.Popen([sys.executable, "-m", module], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE if keep_stderr else subprocess.DEVNULL)


def stop(proc: subprocess.Popen) -> None:
    """End a child that was not (or not fully) used; a no-op once it has exited."""
    if proc.poll() is None:
        proc.kill()
        proc.communicate()
