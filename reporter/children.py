"""Helper processes started ahead of need: a module run as `python -m` that imports its heavy
library (WeasyPrint, matplotlib) while the report's numbers are computed, then answers one request
on stdin. One home for starting and stopping them (reporter/pdf.py, reporter/mplchild.py).

A service report worker goes one step further: it `prestart`s its PDF child while it waits for its
one run (reporter/delivery/service.py, worker preload), so the run's `start` takes a child that has
imported WeasyPrint already instead of one importing it on the run's critical path. A child that no
run takes reads end-of-file when its parent exits and ends without output."""

from __future__ import annotations

import subprocess
import sys

# this process's children started before any run asked for them, by module; `start` takes each at
# most once. Per process (a report worker runs one report and exits), never shared between runs.
_PRESTARTED: dict[str, subprocess.Popen] = {}


def start(module: str, *, keep_stderr: bool) -> subprocess.Popen:
    """`python -m module` with pipes for its one request and answer; ``keep_stderr`` pipes its
    error output to the caller (who reports it), else it is discarded. A child `prestart`ed for
    ``module`` (with the same ``keep_stderr``) and still waiting is handed over instead of a new one."""
    proc = _PRESTARTED.pop(module, None)
    if proc is not None and proc.poll() is None and (proc.stderr is not None) == keep_stderr:
        return proc
    if proc is not None:
        stop(proc)
    return subprocess.Popen([sys.executable, "-m", module], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE if keep_stderr else subprocess.DEVNULL)


def prestart(module: str, *, keep_stderr: bool) -> None:
    """Start the child for ``module`` now, before a run needs it; the next `start` of ``module`` in
    this process takes it. A no-op when one is already waiting."""
    waiting = _PRESTARTED.get(module)
    if waiting is not None and waiting.poll() is None:
        return
    _PRESTARTED.pop(module, None)
    _PRESTARTED[module] = start(module, keep_stderr=keep_stderr)


def stop(proc: subprocess.Popen) -> None:
    """End a child that was not (or not fully) used; a no-op once it has exited."""
    if proc.poll() is None:
        proc.kill()
        proc.communicate()
