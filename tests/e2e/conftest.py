"""Browser fixtures: Debian's chromium driven by Playwright against the real app on a real port.

The browser is launched once per session; each test gets a fresh, JavaScript-less,
phone-sized context (``page``, a reporter) and its own live server wrapping the ``app``
fixture, so every e2e test runs on SQLite and on PostgreSQL like the rest of the suite.
A test that also needs a staff member takes ``laptop``: a second, separate context with
JavaScript on that records what the browser complains about. Nothing is downloaded:
without /usr/bin/chromium the tests are skipped, or fail when CONFIDE_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import pytest
from flask import Flask, got_request_exception
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, Response, WebError

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
# Generous for a page load on a busy CI machine, short enough that a hang fails fast.
TIMEOUT_MS = 10_000


def _require_browser() -> bool:
    return os.environ.get("CONFIDE_REQUIRE_BROWSER") == "1"


def _unavailable(reason: str) -> NoReturn:
    if _require_browser():
        pytest.fail(f"{reason} (CONFIDE_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(
            f"browser tests need Debian's chromium at {CHROMIUM} "
            "(apt-get install chromium); no browser is ever downloaded"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        _unavailable(f"browser tests need the playwright package: {error}")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    chromium = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield chromium
    chromium.close()


class _Handler(WSGIRequestHandler):
    """Keep-alive, as a browser expects, with an idle limit so shutdown never waits long."""

    protocol_version = "HTTP/1.1"
    timeout = 5


@dataclass
class LiveServer:
    url: str
    errors: list[BaseException] = field(default_factory=list)

    def check(self) -> None:
        """Fail if any request raised inside the app (the browser only sees a kind 500 page)."""
        if self.errors:
            message = f"the app raised while serving the browser: {self.errors!r}"
            raise AssertionError(message) from self.errors[0]


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Handler)
    # Track handler threads so server_close() joins them: no request outlives its test.
    server.daemon_threads = False  # type: ignore[attr-defined]
    server.block_on_close = True  # type: ignore[attr-defined]
    live = LiveServer(url=f"http://127.0.0.1:{server.server_port}")

    def record(sender: Flask, exception: BaseException, **extra: Any) -> None:
        live.errors.append(exception)

    got_request_exception.connect(record, app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="e2e-live-server")
    thread.start()
    try:
        yield live
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        got_request_exception.disconnect(record, app)
    assert not thread.is_alive(), "the live server did not stop"
    live.check()


def phone_context(
    browser: Browser, live_server: LiveServer, *, locale: str = "en-US", javascript: bool = False
) -> BrowserContext:
    """A phone's browser, JavaScript off unless asked (axe needs it), in ``locale``."""
    context = browser.new_context(
        java_script_enabled=javascript,
        viewport=PHONE,
        screen=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale=locale,
        base_url=live_server.url,
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A phone with JavaScript off and English as its browser language."""
    context = phone_context(browser, live_server)
    try:
        yield context.new_page()
    finally:
        # Closing the context closes its connections, so the server's handlers finish.
        context.close()


@dataclass
class Laptop:
    """A staff member's browser: JavaScript on, and a record of everything it complained
    about: console errors and warnings (CSP violations among them), uncaught script
    errors, and responses with an error status."""

    page: Page
    problems: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        # Chromium asks for /favicon.ico on its own, some time after a page loads, and the
        # app has none yet: whether its 404 is logged before a test ends is down to timing.
        if message.location.get("url", "").endswith("/favicon.ico"):
            return
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text} ({message.location})")

    def web_error(self, error: WebError) -> None:
        self.problems.append(f"uncaught: {error.error}")

    def response(self, response: Response) -> None:
        if response.status >= 400:
            request = response.request
            self.problems.append(f"HTTP {response.status}: {request.method} {response.url}")

    def check(self) -> None:
        assert not self.problems, "the staff browser complained:\n" + "\n".join(self.problems)


@pytest.fixture
def laptop(browser: Browser, live_server: LiveServer) -> Iterator[Laptop]:
    """A staff member on a laptop, in a context of its own (no cookies shared with ``page``)."""
    context = browser.new_context(
        java_script_enabled=True,
        viewport=LAPTOP,
        screen=LAPTOP,
        locale="en-US",
        base_url=live_server.url,
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    laptop = Laptop(page=context.new_page())
    context.on("console", laptop.console)
    context.on("weberror", laptop.web_error)
    context.on("response", laptop.response)
    try:
        yield laptop
    finally:
        context.close()
