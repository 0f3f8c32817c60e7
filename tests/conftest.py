import gc
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

# One BLAS / OpenMP thread per test process (set before anything imports numpy or torch; a value
# already in the environment wins). pytest-xdist already runs one worker per core, and OpenBLAS's
# default of a thread per core in every worker (and in every served subprocess, which inherits this)
# oversubscribes the cores: on the busy 2-core machine one Gauss-Newton step of the accuracy
# fixture's fold refits (a 5,300 x 80 normal-equation solve) took 130 ms with 2 threads, 10 ms with 1.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart.yaml"


def pytest_collection_modifyitems(items):
    """Test files marked `heavy` (module-level work of tens of CPU- or wall-seconds: a cross-validation,
    calibration fits, served apps, report renders) first, each file's tests in their order.

    Why: pytest-xdist hands out whole files (`--dist loadfile`) in collection order when
    scripts/test.sh passes --no-loadscope-reorder (its default order, most tests first, started the
    five-test accuracy file -- 40 CPU-s, ~100 s on a shared core -- 159 s into a 261 s run, which then
    ended on it). Longest first lets the many short files fill the cores around them. Every worker
    sorts the same collection the same way, as xdist requires."""
    heavy = {item.path for item in items if item.get_closest_marker("heavy")}
    items.sort(key=lambda item: item.path not in heavy)  # stable: the rest keep collection order


# The test processes' cyclic garbage collector: 14x fewer collections than Python's (700, 10, 10)
GC_THRESHOLDS = (10_000, 10, 10)


def pytest_collection_finish(session):
    """Exempt everything imported and collected so far from the cyclic garbage collector's scans
    (`gc.freeze`) and run it less often (GC_THRESHOLDS).

    Why: a test process imports pandas, FastAPI, SQLAlchemy, torch, transformers, ... -- millions of
    long-lived objects -- and every full collection walked all of them again. Measured (CPU time in
    the collector from `gc.callbacks`, 2 xdist workers on the HF front-end, report-recompute,
    calibration and report end-to-end tests, alternated runs): 7.5-8.1 s -> 4.2 s of ~93 CPU-s.
    Frozen objects are still freed when their reference count drops; only reference cycles among
    them are never collected, and imports and collected tests live for the session anyway. Peak
    memory measured unchanged (`-n 0` on the HF front-end and report-template tests: 575 vs 577 MB)."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@pytest.fixture(scope="session", autouse=True)
def history_db(tmp_path_factory):
    """The run history (`PHANTOM_DB_URL`) every `phantom-report` run a test starts records into: a
    file of this test process's own under pytest's temporary directory. Its URL.

    Why: a CLI run records itself in the history database, by default sqlite:///phantom-history.db
    in the working directory, so the suite's CLI report runs went into the checkout's own
    phantom-history.db (100 MB after a day of test runs: the mixed example stores ~1.9 MB a run),
    written by the four xdist workers at once -- or into a developer's real history wherever
    their shell exports PHANTOM_DB_URL. Tests that need a database of their own still set theirs."""
    url = f"sqlite:///{tmp_path_factory.mktemp('history') / 'history.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PHANTOM_DB_URL", url)
        yield url


@pytest.fixture(scope="session")
def engine():
    from phantom_report.engine.api import Engine

    return Engine.load()


def run_cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the real `phantom-report` entry point in a fresh process."""
    full_env = {**os.environ, "PHANTOM_OFFLINE": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "phantom_report", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def quickstart_report(tmp_path_factory):
    """The quickstart rendered once, in every format, for the tests that only read its outputs.

    A full HTML+PDF render costs seconds (~9 s of CPU); several test modules check the same report.
    Tests must not modify the files under ``outputs`` (copy them to ``tmp_path`` first to write
    beside them). Under pytest-xdist the modules land on different workers, so the render is shared
    across them too: the first worker to ask renders into the run's common temporary directory
    while holding a lock, the others wait for it and load its pickled result (same outputs)."""
    from phantom_report.reporter.run import run_report
    from phantom_report.reporter.spec import load_spec

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:  # one process: nothing to share with
        return run_report(load_spec(QUICKSTART), out_dir=tmp_path_factory.mktemp("quickstart"), offline=True)
    # the workers' common parent directory, and this run's id (a --basetemp directory may outlive a run)
    shared = tmp_path_factory.getbasetemp().parent
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "run")
    result_file = shared / f"quickstart-report-{run}.pickle"
    with FileLock(str(shared / f"quickstart-report-{run}.lock"), timeout=600):
        if not result_file.exists():  # a worker that died mid-render wrote no result: render again
            out = shared / f"quickstart-{run}-{worker}"
            out.mkdir()
            staged = shared / f"quickstart-report-{run}.{worker}.tmp"
            staged.write_bytes(pickle.dumps(run_report(load_spec(QUICKSTART), out_dir=out, offline=True)))
            staged.replace(result_file)
        return pickle.loads(result_file.read_bytes())


@pytest.fixture
def cli_in_process(capsys, monkeypatch):
    """`phantom-report` through its `main` in this process, answered like `run_cli`.

    For the many error-path checks (exit code, one-line message, nothing written): each fresh
    interpreter costs a second or more of imports, and the message is the same. The tests that
    check the real entry point as a process keep `cli`."""
    from phantom_report.cli import main

    def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        """env: variables to set for the call; a None value unsets that variable."""
        monkeypatch.setenv("PHANTOM_OFFLINE", "1")
        for name, value in (env or {}).items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        capsys.readouterr()  # drop anything printed before
        code: int | str | None = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code
        out = capsys.readouterr()
        err = out.err
        if isinstance(code, str):  # sys.exit("message"): the interpreter prints it and exits 1
            err, code = err + code + "\n", 1
        return subprocess.CompletedProcess(["phantom-report", *args], code or 0, out.out, err)

    return run
