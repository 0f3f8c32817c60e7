"""Child processes started before a run asks for them (reporter/children.py): a service report
worker prestarts its PDF child while it waits for its run, the run takes that child, and a child no
run took ends quietly when its parent goes away."""

from __future__ import annotations

from phantom_report.reporter import children, pdf
from phantom_report.reporter.delivery.isolation import IsolatedExecutor

PDF_MODULE = "phantom_report.reporter.pdf"


def test_a_prestarted_pdf_child_is_taken_once_and_renders(tmp_path):
    pdf.prestart_child()
    waiting = children._PRESTARTED[PDF_MODULE]
    pdf.prestart_child()  # one is waiting already: no second child
    assert children._PRESTARTED[PDF_MODULE] is waiting
    taken = pdf.start_child()
    fresh = pdf.start_child()  # taken once: the next start is a new child
    try:
        assert taken is waiting and fresh is not waiting
        assert PDF_MODULE not in children._PRESTARTED
        out = pdf.html_to_pdf("<h1>prestarted</h1>", tmp_path, [tmp_path], child=taken)
        assert out.startswith(b"%PDF")
    finally:
        pdf.stop_child(taken)
        pdf.stop_child(fresh)


def test_a_prestarted_child_asked_with_other_pipes_is_replaced():
    children.prestart(PDF_MODULE, keep_stderr=False)
    waiting = children._PRESTARTED[PDF_MODULE]
    proc = children.start(PDF_MODULE, keep_stderr=True)  # the caller reads stderr: not that child
    try:
        assert proc is not waiting and proc.stderr is not None
        assert waiting.poll() is not None  # stopped, not left behind
    finally:
        children.stop(proc)


def test_an_unused_pdf_child_ends_quietly_at_end_of_file():
    proc = children.start(PDF_MODULE, keep_stderr=True)
    out, err = proc.communicate(b"", timeout=120)  # what it reads when its worker exits
    assert (proc.returncode, out, err) == (0, b"", b"")


def test_a_report_worker_prestarts_its_pdf_child_before_the_run():
    # a built-in function as the task: the worker process need not import this test module
    probe = ("[(k, p.poll() is None) for k, p in "
             "vars(__import__('phantom_report.reporter.children', fromlist=['_']))['_PRESTARTED'].items()]")
    pool = IsolatedExecutor(1, preload=("phantom_report.reporter.pdf:prestart_child",))
    try:
        assert pool.submit(eval, probe).result(timeout=120) == [(PDF_MODULE, True)]
    finally:
        pool.shutdown(wait=True)
