"""End-to-end fixtures: the hub served over real HTTP, and a real (headless) Chromium.

``live_hub`` serves the test's ``app`` (same migrated database, emptied after the test) on
127.0.0.1 with a free port; ``serve_wsgi`` serves any other WSGI app (a second hub, an opener
page) the same way. ``browser`` is one Chromium for the whole run; ``page`` is a fresh browser
context (own cookies) per test.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import missing_component

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
WAIT_MS = 20_000  # every browser wait is bounded by this


class _QuietHandler(WSGIRequestHandler):
    """No access log lines on the test output (they would carry codes and states)."""

    def log_request(self, *args, **kwargs) -> None:
        pass


@contextmanager
def serving(wsgi_app) -> Iterator[str]:
    """Serve ``wsgi_app`` on 127.0.0.1 (a free port) in a daemon thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"live-{server.server_port}", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def serve_wsgi() -> Iterator[Callable[[object], str]]:
    """Factory: serve a WSGI app for the rest of the test; answers its base URL."""
    stack: list = []

    def serve(wsgi_app) -> str:
        context = serving(wsgi_app)
        url = context.__enter__()
        stack.append(context)
        return url

    yield serve
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture
def live_hub(app) -> Iterator[str]:
    """The test's ``app`` over real HTTP: ``http://127.0.0.1:<port>``."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with serving(app) as url:
        yield url


class _Chromium:
    """One Chromium for the whole run, however many conftests offer the ``browser`` fixture
    (tests/security imports these): two Playwright sync sessions cannot share a thread."""

    users = 0
    playwright = None
    browser = None


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        missing_component(f"{CHROMIUM} does not exist (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        missing_component(f"playwright is not importable: {exc}")
    if _Chromium.users == 0:
        _Chromium.playwright = sync_playwright().start()
        _Chromium.browser = _Chromium.playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=WAIT_MS)
    _Chromium.users += 1
    yield _Chromium.browser
    _Chromium.users -= 1
    if _Chromium.users == 0:
        _Chromium.browser.close()
        _Chromium.playwright.stop()


@pytest.fixture
def page(browser):
    """A page in a fresh browser context: no cookies from other tests."""
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    opened = context.new_page()
    yield opened
    context.close()
