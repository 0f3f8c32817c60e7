"""The cyclic garbage collector in processes that do one job and exit: the `phantom-report`
executable (phantom_report/cli.py::console_main), a report's helper children (the PDF child,
reporter/pdf.py; the chart child, reporter/mplchild.py) and the service's one-task worker processes
(reporter/delivery/isolation.py).

Python's default thresholds (700, 10, 10) start a young collection every 700 net allocations and a
full one after every 100 young ones. A report run allocates millions of short-lived objects beside
the ~1,000 modules it imports, so the collector ran hundreds of times and each older pass re-walked
the imports: ~0.09 s of a quickstart run's parent process (0.04 s in its imports, 0.05 s in the
run; 0.03 s with these thresholds), ~12% of a 22-page PDF layout's CPU. These processes end after
one run, so collecting less often costs them little memory. `phantom-report serve` starts through
the same executable and lives on; there a young collection every 20,000 allocations instead of 700
lets cyclic garbage live a little longer.
Programs that import the package and call it (tests, a user's code) keep Python's defaults: only
the entry points above tune the collector.
"""

from __future__ import annotations

import gc

THRESHOLDS = (20_000, 50, 50)


def collect_rarely() -> None:
    """Raise this process's collector thresholds to `THRESHOLDS` (a process that does one job)."""
    gc.set_threshold(*THRESHOLDS)


def freeze_loaded_and_collect_rarely() -> None:
    """For a helper process that has imported (and warmed up) what its one job needs: those objects
    are frozen out of the collector's scans (`gc.freeze`), and collections run rarely from now on."""
    gc.freeze()
    collect_rarely()
