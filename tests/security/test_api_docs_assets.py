"""The API docs page's files (``/api/docs/assets/<filename>``, docs/security.md, "The API docs
page"): the filename in the address picks one of the files the page loads, and nothing else.
Other files of the Swagger UI package (an OAuth2 redirect page, an example start-up script
pointing elsewhere), the hub's own source files and any path outside are 404 problems.
"""

from __future__ import annotations

import re

import pytest

from tests.support.problems import assert_problem


def test_the_page_loads_only_files_it_may(client):
    html = client.get("/api/docs").get_data(as_text=True)
    loaded = set(re.findall(r'(?:src|href)="/api/docs/assets/([^"]+)"', html))
    assert {"swagger-ui-bundle.js", "swagger-ui.css"} < loaded
    for name in loaded:
        assert client.get(f"/api/docs/assets/{name}").status_code == 200, name


@pytest.mark.parametrize("filename", [
    "oauth2-redirect.html",       # runs script for an OAuth2 flow the hub's document has not
    "oauth2-redirect.js",
    "swagger-initializer.js",     # the package's example start-up: it loads another API
    "index.html",
    "swagger-ui.js",
    "LICENSE",
    "VERSION",
    "docs_page.py",
    "../docs_page.py",
    "..%2Fdocs_page.py",
    "%2e%2e/%2e%2e/__init__.py",
    "docs_assets/api-docs.js",
    "./api-docs.js",
    "api-docs.js/",
    "..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "api-docs.js%00.png",
])
def test_no_other_file_is_served(client, filename):
    answer = client.get(f"/api/docs/assets/{filename}")
    assert_problem(answer, 404, "not_found")
