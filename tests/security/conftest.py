"""The security tests may drive a real browser: the end-to-end fixtures (the hub served over
HTTP, headless Chromium) are shared with tests/e2e."""

from tests.e2e.conftest import browser, live_hub, page, serve_wsgi  # noqa: F401
