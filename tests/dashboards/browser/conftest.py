"""Real-browser fixtures: the served demo on a live HTTP server, and Debian's Chromium driven
by Playwright (no ``playwright install``: nothing is downloaded at run time).

* ``live`` (session): ``create_app`` over the served releases and a private copy of the
  served database, on 127.0.0.1 and a free port, in a daemon thread. Tests that change state
  (suspensions) start their own with ``live_server``.
* ``browser`` (session): one Chromium for the whole run; ``tab`` (per test) opens a fresh
  context — no cookies shared between tests — and records console errors and uncaught page
  errors, which is where failed callbacks and CSP violations show up.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

from dashboards.app import ServerSettings, create_app

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # root in a container: the setuid sandbox is unavailable
    "--disable-background-networking",  # no update checks, no safe-browsing lists
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
]
# In CI the browser tests must run: a missing Chromium fails them instead of skipping.
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",
    reason="Debian's chromium is not installed (bash scripts/setup.sh test installs it)",
)


@contextmanager
def live_server(served: dict, folder: Path) -> Iterator[dict]:
    """The served releases behind ``create_app`` with a private copy of the served database,
    listening on 127.0.0.1 and a free port until the block ends."""
    db_file = folder / "access.db"
    shutil.copyfile(served["root"] / "access.db", db_file)
    settings = ServerSettings(releases=served["releases"], db_url=f"sqlite:///{db_file}",
                              outbox=folder / "outbox")
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {**served, "url": f"http://127.0.0.1:{server.server_port}",
               "db": settings.db_url, "settings": settings}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def live(served: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with live_server(served, tmp_path_factory.mktemp("live")) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (bash scripts/setup.sh test installs it)")
    # overwritten, never wiped: several runs may share the checkout at once
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Tab:
    """One page of a fresh browser context, with what the browser complained about."""

    def __init__(self, page: Page, server: dict, test_name: str) -> None:
        self.page, self.server = page, server
        self.test_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name).strip("_")
        self.console_errors: list[str] = []
        self.pending: set[Any] = set()
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console_errors.append(f"page error: {error}"))
        page.on("request", lambda started: self.pending.add(started))
        page.on("requestfinished", lambda done: self.pending.discard(done))
        page.on("requestfailed", lambda failed: self.pending.discard(failed))

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        source = message.location.get("url", "") if message.location else ""
        self.console_errors.append(f"{message.text} ({source or self.page.url})")

    @property
    def url(self) -> str:
        return self.server["url"]

    def login(self, username: str, password: str | None = None) -> None:
        """Log in through the real form and wait for the overview to render."""
        page = self.page
        page.goto(f"{self.url}/login")
        page.fill("#username", username)
        page.fill("#password", password or self.server["accounts"][username]["password"])
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.url}/")
        self.settle()

    def settle(self, quiet_ms: int = 250, timeout_ms: int = 20_000) -> None:
        """Wait until Dash has rendered a page and no request (callback) is in flight."""
        page = self.page
        page.wait_for_selector("#_pages_content > *", timeout=timeout_ms)
        # a locator, not wait_for_function: the CSP (rightly) forbids the eval that needs
        expect(page.locator("._dash-loading, ._dash-loading-callback")).to_have_count(
            0, timeout=timeout_ms)
        waited = quiet = 0
        while quiet < quiet_ms:
            page.wait_for_timeout(50)
            waited += 50
            quiet = 0 if self.pending else quiet + 50
            if waited > timeout_ms:
                raise AssertionError(f"requests still in flight: {[r.url for r in self.pending]}")

    def screenshot(self, page_name: str) -> Path:
        """A full-page screenshot kept under test-artifacts/screenshots/<test>-<page>.png."""
        path = SCREENSHOTS / f"{self.test_name}-{page_name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@contextmanager
def open_tab(browser: Browser, server: dict, test_name: str) -> Iterator[Tab]:
    """A page in a fresh browser context (no cookies) on ``server``."""
    context = browser.new_context(locale="zh-TW", viewport={"width": 1280, "height": 900})
    try:
        yield Tab(context.new_page(), server, test_name)
    finally:
        context.close()


@pytest.fixture
def tab(browser: Browser, live: dict, request: pytest.FixtureRequest) -> Iterator[Tab]:
    with open_tab(browser, live, request.node.name) as opened:
        yield opened
