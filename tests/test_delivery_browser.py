"""The browser UI in headless Chromium (Debian `chromium` driven by playwright's Python package;
no browser download). The service runs as a real process on 127.0.0.1."""

from __future__ import annotations

import shutil

import pytest

from devserver import create_key, start_server, wait_for_runs

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which("chromium"):
        pytest.skip("Debian chromium not installed (apt-get install chromium)")
    work = tmp_path_factory.mktemp("ui")
    (work / "profiles").mkdir()
    db = f"sqlite:///{work}/history.db"
    key = create_key(db, "browser")
    # one report worker: the module renders one report, and each spare worker preloads ~3 s of CPU
    srv = start_server(work, db, "--profiles", str(work / "profiles"), "--offline", "--scheduler-interval", "0",
                       "--workers", "1")
    pw = sync_api.sync_playwright().start()
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
    page = browser.new_page()
    page.set_default_timeout(20_000)
    # block anything that is not our server: the UI must work with no network
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(srv.base_url)
               else route.abort())
    page.goto(srv.base_url + "/ui/compare")
    assert "/ui/login" in page.url
    page.fill("#key", key)
    page.click("#login")
    page.wait_for_url("**/ui/compare")
    page.api_key = key  # for the history test's direct API call
    yield page, srv, work
    browser.close()
    pw.stop()
    srv.stop()


def _gpus_in_table(page) -> set[str]:
    return set(page.eval_on_selector_all("#compare-table tbody tr", "rows => rows.map(r => r.dataset.gpu)"))


def test_compare_page_updates_when_gpu_changes(ui):
    page, _srv, _work = ui
    page.wait_for_selector("#compare-table tbody tr")
    before = _gpus_in_table(page)
    assert len(before) == 2
    # tick a GPU that is not shown yet and watch the table follow
    extra = page.eval_on_selector_all("#gpus input:not(:checked)", "els => els.map(e => e.value)")[0]
    page.check(f"#gpus input[value='{extra}']")
    page.wait_for_function("n => document.querySelectorAll('#compare-table tbody tr').length === n", arg=3)
    after = _gpus_in_table(page)
    assert after == before | {extra}
    assert page.locator("#chart rect").count() >= 3  # the chart redrew too
    latency = page.locator(f"#compare-table tbody tr[data-gpu='{extra}'] td").nth(4).inner_text()
    assert latency not in ("", "–")
    page.uncheck(f"#gpus input[value='{extra}']")
    page.wait_for_function("n => document.querySelectorAll('#compare-table tbody tr').length === n", arg=2)


def test_profile_editor_rejects_invalid_profile(ui):
    page, srv, work = ui
    page.goto(srv.base_url + "/ui/profiles")
    page.select_option("#profile-source", "H100-SXM")
    page.wait_for_function("() => document.querySelector('#profile-text').value.includes('memory_gb')")
    text = page.input_value("#profile-text")
    broken = "\n".join('memory_gb = "lots"' if line.startswith("memory_gb") else line for line in text.splitlines())
    page.fill("#profile-file", "broken.toml")
    page.fill("#profile-text", broken)
    page.click("#profile-save")
    page.wait_for_selector("#profile-status.error")
    message = page.inner_text("#profile-status")
    assert "memory_gb" in message and "expected" in message
    assert not (work / "profiles" / "broken.toml").exists()  # nothing invalid reached the directory
    # a valid edit is saved and hot-reloaded as a new GPU
    fixed = text.replace('name = "H100-SXM"', 'name = "H100-Custom"')
    fixed = "\n".join(l for l in fixed.splitlines() if not l.startswith("aliases"))
    page.fill("#profile-file", "h100-custom.toml")
    page.fill("#profile-text", fixed)
    page.click("#profile-save")
    page.wait_for_selector("#profile-status.ok")
    assert (work / "profiles" / "h100-custom.toml").exists()
    page.goto(srv.base_url + "/ui/compare")
    page.wait_for_selector("#gpus input[value='H100-Custom']", state="attached")


def test_accuracy_and_history_pages(ui):
    page, srv, _work = ui
    page.goto(srv.base_url + "/ui/accuracy")
    page.wait_for_function("() => !document.querySelector('#accuracy-method').textContent.startsWith('Loading')",
                           timeout=60_000)
    if "No accuracy figures" not in page.inner_text("#accuracy-method"):
        assert page.locator("#accuracy-gpu tbody tr").count() >= 1
    import httpx

    h = {"X-API-Key": page.api_key}
    spec = {"model": "resnet-50", "gpus": ["L4"], "demand": {"requests_per_s": 5}, "pricing": {"offline": True},
            "report": {"formats": ["json", "md"]}}
    run_id = httpx.post(srv.base_url + "/v1/reports", json=spec, headers=h, timeout=30).json()["id"]
    assert wait_for_runs(srv.base_url, [run_id], h, timeout_s=120) == ["succeeded"]
    page.goto(srv.base_url + "/ui/history")
    assert page.locator("h1").inner_text() == "Run history"
    link = page.locator(f"#history-table a[href='/v1/reports/{run_id}/report.md']")
    assert link.count() == 1
    # the link works from the browser with the login cookie alone
    body = page.evaluate("url => fetch(url).then(r => r.status)", f"/v1/reports/{run_id}/report.md")
    assert body == 200
