"""The browser viewer in real headless Chromium (Debian's chromium + chromium-driver, driven by selenium)
against the real service (`python -m service serve`, API keys configured, none in the browser).

Screenshots are saved under var/test-artifacts/viewer (or $PAGEMILL_TEST_ARTIFACTS); the run prints
the folder at the end."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from core.redisproc import free_port
from service.routes import OPERATIONS
from tests.conftest import ARTIFACTS, ROOT
from tests.docgen import corrupt_pdf, encrypted_pdf, text_pdf
from tests.helpers import cmdline, descendants

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service as DriverService  # noqa: E402
from selenium.webdriver.common.actions.action_builder import ActionBuilder  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason="needs Debian's chromium and chromium-driver (./dev test installs them when run as root)",
)

KEY = "acme-viewer-key-1"
KEYED = {"Acs-Api-Key": KEY}
BIG = text_pdf(117)  # the document: 117 pages


@dataclass
class Running:
    base: str
    proc: subprocess.Popen[bytes]
    log: Path

    def session(self, document: bytes, extension: str = "pdf", **props: Any) -> str:
        """What an application does server-side with its key: create a session, give it the document."""
        resp = requests.post(f"{self.base}/PCCIS/V1/ViewingSession", json=props, headers=KEYED, timeout=10)
        sid = resp.json()["viewingSessionId"]
        url = f"{self.base}/PCCIS/V1/ViewingSession/u{sid}/SourceFile?FileExtension={extension}"
        assert requests.put(url, data=document, headers=KEYED, timeout=30).status_code == 200
        return sid

    def workers(self) -> list[int]:
        return [p for p in descendants(self.proc.pid) if cmdline(p)[1:3] == ["-m", "workers"]]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = tmp_path_factory.mktemp("viewer-service")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAGEMILL_") and k != "REDIS_URL"}
    env |= {
        "PAGEMILL_PORT": str(port),
        "PAGEMILL_DATA_DIR": str(data),
        "PAGEMILL_API_KEYS": f"acme:{KEY}",
        "PAGEMILL_RENDER_PROCESSES": "2",
        "PAGEMILL_PAGE_WAIT_S": "2",  # a page not rendered within 2 s answers 504; the viewer asks again
        "PAGEMILL_LOG_FORMAT": "json",
        "PAGEMILL_OFFICE_PRESTART": "false",
        "PAGEMILL_OFFICE_PROCESSES": "1",
    }
    if os.environ.get("PAGEMILL_REDIS_SERVER"):
        env["PAGEMILL_REDIS_SERVER"] = os.environ["PAGEMILL_REDIS_SERVER"]
    log = data / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--workers", "1"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Running(f"http://127.0.0.1:{port}", proc, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if requests.get(f"{running.base}/PCCIS/V1/Service/Current/Ready", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        yield running
    finally:
        for pid in running.workers():
            os.kill(pid, signal.SIGCONT)  # a test that paused a worker and failed
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def artifacts() -> Path:
    folder = Path(os.environ.get("PAGEMILL_TEST_ARTIFACTS") or ROOT / "var" / "test-artifacts") / "viewer"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    ARTIFACTS.append(f"viewer screenshots: {folder}")
    return folder


class Browser:
    """One headless Chromium; every request it sends is recorded (Chrome's performance log)."""

    def __init__(self, downloads: Path, artifacts: Path) -> None:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                    "--disable-gpu", "--hide-scrollbars"):  # fmt: skip
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        options.add_experimental_option("prefs", {"download.default_directory": str(downloads)})
        self.driver = webdriver.Chrome(options=options, service=DriverService(CHROMEDRIVER))
        self.driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        self.downloads = downloads
        self.artifacts = artifacts
        self.requests: list[dict[str, Any]] = []

    def open(self, url: str) -> None:
        self.driver.get(url)

    def wait(self, condition: Callable[[], Any], timeout_s: float = 20, what: str = "") -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                self.shot("timeout")
                raise AssertionError(f"timed out waiting for {what or condition}")
            time.sleep(0.05)

    def css(self, selector: str) -> list[Any]:
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def wait_css(self, selector: str, timeout_s: float = 20) -> Any:
        return self.wait(lambda: self.css(selector), timeout_s, selector)[0]

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def data(self) -> dict[str, str]:
        return self.js("return {...document.getElementById('pm-viewer').dataset}")

    def keys(self, *keys: str) -> None:
        webdriver.ActionChains(self.driver).send_keys(*keys).perform()

    def shot(self, name: str) -> Path:
        path = self.artifacts / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def sent(self) -> list[dict[str, Any]]:
        """The requests the page sent since the last call (URL, method, headers as sent)."""
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                self.requests.append(message["params"]["request"])
            elif message["method"] == "Network.requestWillBeSentExtraInfo":
                self.requests.append({"url": "", "headers": message["params"]["headers"]})
        sent, self.requests = self.requests, []
        return sent

    def assert_no_key_sent(self) -> list[dict[str, Any]]:
        sent = self.sent()
        assert sent, "no request was recorded"
        for request in sent:
            names = {name.lower() for name in request.get("headers", {})}
            assert not names & {"acs-api-key", "authorization"}, request
            assert KEY not in json.dumps(request), request
        return sent


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory, artifacts: Path) -> Iterator[Browser]:
    b = Browser(tmp_path_factory.mktemp("downloads"), artifacts)
    try:
        yield b
    finally:
        b.driver.quit()


def viewer_url(service: Running, sid: str, extra: str = "") -> str:
    return f"{service.base}/viewer?session={sid}{extra}"


def page_state(browser: Browser, n: int) -> str:
    el = browser.css(f'[data-page="{n}"]')
    return el[0].get_attribute("data-state") if el else ""


def test_a_117_page_pdf_shows_its_first_page_lays_out_every_page_and_loads_a_far_one(service, browser):
    # Given an application's session (countOfInitialPages=1) on a 117-page PDF
    sid = service.session(BIG, countOfInitialPages=1)
    # When the browser opens the viewer with nothing but the session id
    browser.open(viewer_url(service, sid))
    # Then the first page is shown, as a real page image (150 dpi Letter)
    browser.wait_css('[data-page="0"][data-state="loaded"]')
    assert browser.js("return document.querySelector('[data-page=\"0\"] img').naturalWidth") == 1275
    # and all 117 pages are laid out once the real count is known
    browser.wait(lambda: browser.data().get("countConfidence") == "100", what="the real count")
    assert len(browser.css(".pm-page")) == 117
    assert browser.css("#pm-count")[0].text == "of 117"
    browser.wait(lambda: len(browser.css(".pm-thumb-image")) >= 3, what="thumbnails")
    browser.wait(lambda: not [s for s in browser.css(".pm-spinner") if s.is_displayed()], what="no spinner")
    browser.shot("01-first-page")
    # When the reader scrolls to page 61
    browser.js("document.querySelector('[data-page=\"60\"]').scrollIntoView({block: 'start'})")
    # Then page 61 loads, the page box follows, and the first page's image is released
    browser.wait_css('[data-page="60"][data-state="loaded"]')
    browser.wait(lambda: browser.css("#pm-page")[0].get_attribute("value") == "61", what="the page box")
    browser.wait(lambda: page_state(browser, 0) == "placeholder", what="page 1 released")
    assert browser.js("return document.querySelectorAll('img.pm-image').length") <= 16
    browser.wait(lambda: "page=61" in browser.driver.current_url, what="the deep link in the address")
    assert browser.css('.pm-thumb[aria-current="page"]')[0].get_attribute("data-thumb") == "60"
    browser.shot("02-page-61")
    # and the browser never sent an API key, while the same routes without one stay closed elsewhere
    sent = browser.assert_no_key_sent()
    assert any("/PCCIS/V1/Page/q/60?" in r.get("url", "") for r in sent)
    for path in ("/PCCIS/V1/WorkFile/AAAAAAAAAAAAAAAAAAAAAA", f"/PCCIS/V1/ViewingSession/u{sid}", "/api/QueuedJobs"):
        assert requests.get(service.base + path, timeout=10).status_code == 401, path


def test_a_slow_server_shows_a_spinner_then_the_page_and_the_real_count(service, browser):
    # Given a server whose worker is paused (a conversion that takes a while)
    document = text_pdf(117, lines=30)  # not the cached one
    workers = service.workers()
    assert workers
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    try:
        sid = service.session(document, countOfInitialPages=1)
        browser.open(viewer_url(service, sid))
        # Then the viewer lays out the estimated count at once and waits with a spinner, not an error
        browser.wait(lambda: browser.data().get("countConfidence") == "50", what="the estimate")
        assert browser.css("#pm-count")[0].text == "of ~117"
        browser.wait_css(".pm-viewer.pm-is-slow", timeout_s=10)  # the server answered 504 at least once
        browser.wait(lambda: browser.css('[data-page="0"] .pm-spinner')[0].is_displayed(), what="the spinner")
        assert browser.css("#pm-overlay")[0].get_attribute("hidden") is not None
        assert "Preparing" in browser.css("#pm-status")[0].get_attribute("textContent")
        browser.shot("03-slow-server")
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
    # When the worker is back, the page appears and the estimate is replaced by the real count
    browser.wait_css('[data-page="0"][data-state="loaded"]', timeout_s=30)
    browser.wait(lambda: browser.css("#pm-count")[0].text == "of 117", what="the real count")
    assert browser.data()["countConfidence"] == "100"
    # the slow state and the page's spinner go once the requests still waiting on the server are answered
    browser.wait(lambda: not browser.css(".pm-viewer.pm-is-slow"), what="the slow state to end")
    browser.wait(lambda: not browser.css('[data-page="0"] .pm-spinner')[0].is_displayed(), what="no spinner")
    browser.assert_no_key_sent()


@pytest.mark.parametrize(
    ("case", "kind", "title"),
    [
        ("password", "password", "This document is password-protected"),
        ("expired", "expired", "This viewing session has expired"),
        ("unreadable", "unreadable", "This document cannot be displayed"),
    ],
)
def test_error_states(service, browser, case, kind, title):
    # Given a password-protected PDF (no password in the session), a session that is gone, or a damaged file
    if case == "password":
        sid = service.session(encrypted_pdf(2, "secret"))
    elif case == "unreadable":
        sid = service.session(corrupt_pdf())
    else:
        sid = service.session(text_pdf(2), serverCaching="none")
        url = f"{service.base}/PCCIS/V1/ViewingSession/u{sid}"
        assert requests.delete(url, headers=KEYED, timeout=10).status_code == 204
    # When the viewer opens it
    browser.open(viewer_url(service, sid))
    # Then it says so clearly, in place of the pages
    overlay = browser.wait(lambda: [e for e in browser.css("#pm-overlay") if e.is_displayed()], what="the message")[0]
    assert browser.data()["error"] == kind
    assert browser.css("#pm-overlay-title")[0].text == title
    if case == "unreadable":  # with the server's own words
        assert "damaged" in browser.css("#pm-overlay-text")[0].text
    assert overlay.get_attribute("role") == "alert"
    assert not [e for e in browser.css(".pm-page") if e.is_displayed()]
    browser.shot(f"04-error-{case}")
    browser.assert_no_key_sent()


def test_deep_link_keyboard_zoom_and_thumbnails(service, browser):
    sid = service.session(BIG, countOfInitialPages=1)
    # A deep link opens at its page, which is the first page requested
    browser.open(viewer_url(service, sid, "&page=50"))
    browser.wait_css('[data-page="49"][data-state="loaded"]')
    assert browser.css("#pm-page")[0].get_attribute("value") == "50"
    pages = [r["url"] for r in browser.sent() if "/PCCIS/V1/Page/q/" in r.get("url", "")]
    assert "/PCCIS/V1/Page/q/49?" in pages[0], pages[:3]
    browser.wait(lambda: browser.data().get("countConfidence") == "100", what="the real count")
    # The keyboard moves between pages (with the document focused, as after a click on it)
    browser.js("document.getElementById('pm-pages').focus()")
    for key, expected in ((Keys.END, "117"), (Keys.HOME, "1"), (Keys.PAGE_DOWN, "2"), (Keys.PAGE_UP, "1")):
        browser.keys(key)
        browser.wait(lambda e=expected: browser.css("#pm-page")[0].get_attribute("value") == e, what=key)
        browser.wait_css(f'[data-page="{int(expected) - 1}"][data-state="loaded"]')
    # the page box takes a number
    box = browser.css("#pm-page")[0]
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("30", Keys.ENTER)
    browser.wait_css('[data-page="29"][data-state="loaded"]')
    # Zoom: steps make pages larger and sharper images are asked for; fit page fits one page
    width = browser.css('[data-page="29"]')[0].size["width"]
    for _ in range(4):  # fit width (about 133% here), then 150%, 175%, 200%, 250%
        browser.css("#pm-zoom-in")[0].click()
    browser.wait(lambda: browser.data()["zoom"] == "2.5", what="zoomed in")
    assert browser.css('[data-page="29"]')[0].size["width"] > 1.8 * width
    browser.wait(lambda: browser.css('[data-page="29"]')[0].get_attribute("data-scale") == "2", what="sharper image")
    assert any("Scale=2" in r.get("url", "") for r in browser.sent())
    browser.shot("05-zoomed-in")
    Select(browser.css("#pm-zoom")[0]).select_by_value("fit-page")
    viewport = browser.js("return document.getElementById('pm-pages').clientHeight")
    browser.wait(lambda: browser.css('[data-page="29"]')[0].size["height"] <= viewport, what="fit page")
    browser.shot("06-fit-page")
    # A thumbnail takes the reader to its page
    browser.js("document.querySelector('[data-thumb=\"9\"]').scrollIntoView()")
    browser.wait_css('[data-thumb="9"]').click()
    browser.wait(lambda: browser.css("#pm-page")[0].get_attribute("value") == "10", what="thumbnail click")
    browser.wait_css('[data-page="9"][data-state="loaded"]')
    browser.assert_no_key_sent()


def test_phone_width(service, browser):
    sid = service.session(BIG, countOfInitialPages=1)
    browser.driver.set_window_size(390, 844)
    try:
        browser.open(viewer_url(service, sid))
        browser.wait_css('[data-page="0"][data-state="loaded"]')
        browser.wait(lambda: browser.data().get("countConfidence") == "100", what="the real count")
        # the sidebar starts closed, the page fits the width, nothing overflows sideways
        assert not browser.css("#pm-sidebar")[0].is_displayed()
        assert browser.css("#pm-sidebar-toggle")[0].get_attribute("aria-expanded") == "false"
        page = browser.css('[data-page="0"]')[0]
        assert page.size["width"] <= browser.js("return document.getElementById('pm-pages').clientWidth")
        assert browser.js("return document.documentElement.scrollWidth <= window.innerWidth")
        browser.shot("07-phone")
        # the thumbnails open over the page and close on a choice
        browser.css("#pm-sidebar-toggle")[0].click()
        browser.wait_css('[data-thumb="2"]').click()
        browser.wait(lambda: browser.css("#pm-page")[0].get_attribute("value") == "3", what="thumbnail")
        assert not browser.css("#pm-sidebar")[0].is_displayed()
    finally:
        browser.driver.set_window_size(1280, 900)
    browser.assert_no_key_sent()


def test_download_original_and_pdf_and_print(service, browser):
    document = text_pdf(3, lines=5)
    sid = service.session(document)
    browser.open(viewer_url(service, sid))
    browser.wait_css('[data-page="0"][data-state="loaded"]')
    # The original downloads as itself; the PDF button appears (a PDF's PDF is the original)
    browser.css("#pm-download")[0].click()
    saved = browser.wait(lambda: [p for p in browser.downloads.glob("document*.pdf")], what="the download")[0]
    browser.wait(lambda: saved.stat().st_size == len(document), what="the whole file")
    assert saved.read_bytes() == document
    browser.wait(lambda: browser.css("#pm-download-pdf")[0].is_displayed(), what="the PDF button")
    # Print loads every page in order into the print-only container, then opens the print dialog
    browser.wait(lambda: browser.data().get("countConfidence") == "100", what="the real count")
    browser.js("window.print = () => { window.printedPages = document.querySelectorAll('.pm-print-page').length; }")
    browser.css("#pm-print")[0].click()
    browser.wait(lambda: browser.js("return window.printedPages") == 3, what="printing")
    order = browser.js("return [...document.querySelectorAll('.pm-print-page')].map(i => i.dataset.page)")
    assert order == ["0", "1", "2"]
    browser.assert_no_key_sent()


# Character boxes and search tasks come with issue #16; these run once the routes are there.
SEARCH_READY = any(op.path == "/v2/viewingSessions/{sessionId}/searchTasks" for op in OPERATIONS)
needs_search = pytest.mark.skipif(not SEARCH_READY, reason="search tasks and character boxes come with issue #16")


@needs_search
def test_text_selection_returns_the_page_text(service, browser):
    document = text_pdf(2, lines=6)
    sid = service.session(document)
    browser.open(viewer_url(service, sid))
    browser.wait_css('[data-page="0"][data-state="loaded"]')
    spans = browser.wait(lambda: browser.css('[data-page="0"] .pm-text span'), what="the text layer")
    # A reader drags over the first text line (from its first letter to its last, in viewport pixels:
    # the layer is scaled, and selenium's element offsets ignore transforms): the selection is that line
    line = next(s for s in spans if s.get_attribute("textContent").startswith("Line 1 of page 1"))
    left, top, right, bottom = browser.js(
        "const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]", line
    )
    y = int((top + bottom) / 2)
    drag = ActionBuilder(browser.driver)
    drag.pointer_action.move_to_location(int(left) + 1, y).pointer_down().move_to_location(int(right) - 1, y)
    drag.pointer_action.pointer_up()
    drag.perform()
    assert (
        browser.js("return getSelection().toString()")
        == "Line 1 of page 1: the quick brown fox jumps over the lazy dog."
    )
    browser.shot("08-text-selected")
    # and selecting the whole page gives the page's text as the server extracted it
    selected = browser.js(
        "const r = document.createRange(); r.selectNodeContents(document.querySelector('[data-page=\"0\"] .pm-text'));"
        "getSelection().removeAllRanges(); getSelection().addRange(r); return getSelection().toString()"
    )
    url = f"{service.base}/PCCIS/V1/Document/q/0-0/Text?DocumentID=u{sid}"
    expected = requests.get(url, headers=KEYED, timeout=10).json()["pages"][0]["text"]
    assert selected.split() == expected.split()
    browser.assert_no_key_sent()


@needs_search
def test_search_highlights_every_hit(service, browser):
    sid = service.session(BIG, countOfInitialPages=1)
    browser.open(viewer_url(service, sid))
    browser.wait_css('[data-page="0"][data-state="loaded"]')
    # Ctrl+F goes to the search box
    browser.js("document.getElementById('pm-pages').focus()")
    webdriver.ActionChains(browser.driver).key_down(Keys.CONTROL).send_keys("f").key_up(Keys.CONTROL).perform()
    assert browser.js("return document.activeElement.id") == "pm-search"
    browser.keys("of page 7:", Keys.ENTER)
    # Then every line of page 7 is a hit, highlighted on that page, and the reader is taken there
    browser.wait(lambda: browser.css("#pm-hits")[0].text == "1 of 40", what="the hit count")
    hits = browser.css(".pm-hit")
    assert len(hits) == 40
    assert {h.find_element(By.XPATH, "..").get_attribute("data-page") for h in hits} == {"6"}
    browser.wait_css('[data-page="6"][data-state="loaded"]')
    assert browser.css("#pm-page")[0].get_attribute("value") == "7"
    first = browser.css(".pm-hit-current")[0].location["y"]
    browser.keys(Keys.ENTER)  # the next hit
    browser.wait(lambda: browser.css("#pm-hits")[0].text == "2 of 40", what="the next hit")
    assert browser.css(".pm-hit-current")[0].location["y"] > first
    browser.shot("09-search-hits")
    webdriver.ActionChains(browser.driver).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
    browser.wait(lambda: browser.css("#pm-hits")[0].text == "1 of 40", what="the previous hit")
    browser.assert_no_key_sent()
