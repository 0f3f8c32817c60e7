"""HTML -> PDF with WeasyPrint, in a child process with a time limit, reading only allowed files.

WeasyPrint gets a URL fetcher that serves ``data:`` URIs and regular files (of bounded size) whose
real path is inside the template directories, the same rule as the template loader
(safe_files.inside); anything else (``file:///etc/passwd``, a symlink out of the directory, http...)
stops the render with a TemplateError. Layout cannot be interrupted from inside (about 2 minutes per
MB of simple HTML, measured on the dev box), so the render runs in a child process
(``python -m phantom_report.reporter.pdf``) that is killed at the time limit. This module imports
nothing heavy, so the child starts fast.
"""

from __future__ import annotations

import gc
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

from phantom_report.errors import TemplateError
from phantom_report import gc_tuning, safe_files
from phantom_report.reporter import children

MAX_ASSET_BYTES = 20_000_000  # one stylesheet, font or image a template loads into the PDF


def _fetcher_class():
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    class SafeFetcher(URLFetcher):
        """data: URIs and files under the template directories; nothing else."""

        def __init__(self, allowed_dirs: list[Path]):
            super().__init__(allowed_protocols=("data", "file"))
            self._allowed = safe_files.real_dirs(allowed_dirs)

        def fetch(self, url, headers=None):
            scheme = url.split(":", 1)[0].lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file":
                path = os.path.realpath(unquote(urlparse(url).path))
                if safe_files.inside(path, self._allowed):
                    _check_asset(path, url)
                    return super().fetch(url, headers)
            raise Refused(f"template tried to load {url}; only data: URIs and files in the template directories are allowed")

    class Refused(FatalURLFetchingError):
        pass

    def _check_asset(path: str, url: str) -> None:
        try:
            st = os.stat(path)
        except OSError as exc:
            raise Refused(f"template tried to load {url}: {exc.strerror or exc}") from None
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_ASSET_BYTES:
            raise Refused(f"template tried to load {url}: not a regular file of at most {MAX_ASSET_BYTES:,} bytes")

    return SafeFetcher, Refused


PDF_TIMEOUT_S = 300.0  # the built-in reports take seconds; a template can make WeasyPrint run for hours
_ERROR_MARK = "phantom-report-pdf-error: "


def start_child() -> subprocess.Popen:
    """A PDF child process, started ahead of need: it imports WeasyPrint (~1.3 s) while the caller
    computes the report, then waits for its one request on stdin. Hand it to `html_to_pdf`, or
    `stop_child` it when no PDF is rendered after all."""
    return children.start("phantom_report.reporter.pdf", keep_stderr=True)


def prestart_child() -> None:
    """Start this process's PDF child now, before any run (a service report worker's preload); the
    run's `start_child` then takes it with WeasyPrint imported already."""
    children.prestart("phantom_report.reporter.pdf", keep_stderr=True)


stop_child = children.stop


def html_to_pdf(html: str, base_dir: Path, allowed_dirs: list[Path], timeout_s: float = PDF_TIMEOUT_S,
                child: subprocess.Popen | None = None) -> bytes:
    """``html`` as PDF, rendered by WeasyPrint in a child process (``child`` from `start_child`,
    else a new one) that is killed after ``timeout_s``, so a template that prints a huge document
    cannot hold a worker for hours. The time limit counts from the request, not the child's start."""
    return submit(html, base_dir, allowed_dirs, timeout_s, child).result()


class PendingPdf:
    """A PDF being laid out by its child process while the caller does other work (the HTML and
    Markdown renders); `result` waits for the bytes. The request is written and the answer read on
    a thread: the child's pipes would otherwise fill and block both sides."""

    def __init__(self, request: bytes, proc: subprocess.Popen, timeout_s: float):
        self._proc, self._timeout_s = proc, timeout_s
        self._answer: tuple[bytes, bytes] | None = None
        self._timed_out = False
        self._thread = threading.Thread(target=self._talk, args=(request,), name="pdf-child", daemon=True)
        self._thread.start()

    def _talk(self, request: bytes) -> None:
        try:
            self._answer = self._proc.communicate(request, timeout=self._timeout_s)
        except subprocess.TimeoutExpired:
            self._timed_out = True
            self._proc.kill()
            self._proc.communicate()

    def cancel(self) -> None:
        """Stop the child (the run failed elsewhere) and wait for the thread to notice."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._thread.join()

    def result(self) -> bytes:
        """The PDF's bytes, once the child is done; TemplateError when it failed or ran too long."""
        self._thread.join()
        if self._timed_out:
            raise TemplateError(f"PDF rendering took longer than {self._timeout_s:g} s (PDF time limit); the "
                                "template makes a very long document")
        pdf, err = self._answer or (b"", b"")
        if self._proc.returncode == 0:
            return pdf
        lines = err.decode("utf-8", "replace").splitlines()
        marked = [ln[len(_ERROR_MARK):] for ln in lines if ln.startswith(_ERROR_MARK)]
        raise TemplateError(marked[-1] if marked else
                            f"PDF renderer failed (exit {self._proc.returncode}): {lines[-1] if lines else 'no message'}")


def submit(html: str, base_dir: Path, allowed_dirs: list[Path], timeout_s: float = PDF_TIMEOUT_S,
           child: subprocess.Popen | None = None) -> PendingPdf:
    """Send ``html`` to a PDF child (``child``, else a new one) and return at once; the layout runs
    in the child, in parallel with whatever the caller does next (see `html_to_pdf`)."""
    request = json.dumps({"html": html, "base_dir": str(base_dir), "allowed": [str(d) for d in allowed_dirs]})
    return PendingPdf(request.encode("utf-8"), child or start_child(), timeout_s)


def pdf_child_main() -> int:
    """Entry of the PDF child process: JSON request on stdin, PDF bytes on stdout."""
    import weasyprint  # noqa: F401 - before the request arrives: a child started early is warm by then

    _fetcher_class()
    # layout allocates millions of short-lived objects: with Python's default thresholds the
    # collector ran ~800 times, re-scanning WeasyPrint's modules on each full pass (about 12% of a
    # 22-page layout's CPU). This process lives for one render; memory measured unchanged, 130 MB peak
    gc_tuning.freeze_loaded_and_collect_rarely()
    raw = sys.stdin.buffer.read()
    if not raw:  # a prestarted child no run took: its parent exited (children.prestart)
        return 0
    req = json.loads(raw.decode("utf-8"))
    try:
        pdf = html_to_pdf_here(req["html"], Path(req["base_dir"]), [Path(d) for d in req["allowed"]])
    except TemplateError as exc:
        sys.stderr.write(_ERROR_MARK + str(exc).replace("\n", " ") + "\n")
        return 2
    sys.stdout.buffer.write(pdf)
    # the caller reads the PDF until this process exits, and the exit's final collections walked
    # the laid-out document (cycles of boxes): 0.20-0.25 s after a 22-page PDF was written, 0.02 s
    # with everything frozen (as the executable exits, phantom_report/cli.py::console_main)
    gc.freeze()
    return 0


def html_to_pdf_here(html: str, base_dir: Path, allowed_dirs: list[Path]) -> bytes:
    """``html`` as PDF in this process (WeasyPrint with the safe URL fetcher)."""
    from weasyprint import HTML

    SafeFetcher, Refused = _fetcher_class()
    try:
        return HTML(string=html, base_url=str(base_dir) + "/", url_fetcher=SafeFetcher(allowed_dirs)).write_pdf()
    except Refused as exc:
        raise TemplateError(str(exc)) from None
    except Exception as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, Refused):
            raise TemplateError(str(cause)) from None
        raise


if __name__ == "__main__":
    sys.exit(pdf_child_main())
