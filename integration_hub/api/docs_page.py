"""The API docs page's files, ``/api/docs/assets/...``: Swagger UI 5 (it reads OpenAPI 3.1),
every file served by the hub itself, so the page works offline and under the hub's
Content-Security-Policy. The page itself is ``Api._openapi_swagger_ui`` (extensions.py).

Swagger UI's own files come from the ``flask-swagger-ui`` package (its ``dist`` folder; only
the files the page loads are served). The page's start-up script is the hub's own static file,
``docs_assets/api-docs.js``: the page has no inline script, so ``script-src 'self'`` holds.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from flask import Flask, send_from_directory

from integration_hub import errors

HUB_ASSETS = Path(__file__).with_name("docs_assets")
HUB_FILES = frozenset(path.name for path in HUB_ASSETS.iterdir() if path.is_file())
SWAGGER_UI_DIST = Path(str(files("flask_swagger_ui") / "dist"))
# What the page loads from the package; its other files (an OAuth2 redirect page, the
# standalone layout's top bar for exploring other documents) are not the hub's to serve.
SWAGGER_UI_FILES = frozenset({"index.css", "swagger-ui.css", "swagger-ui-bundle.js",
                              "favicon-32x32.png"})
MAX_AGE = 86400


def register_docs_assets(app: Flask) -> None:
    @app.route("/api/docs/assets/<path:filename>", endpoint="api_docs_assets")
    def api_docs_assets(filename: str):
        if filename in SWAGGER_UI_FILES:
            return send_from_directory(SWAGGER_UI_DIST, filename, max_age=MAX_AGE)
        if filename in HUB_FILES:
            return send_from_directory(HUB_ASSETS, filename, max_age=MAX_AGE)
        raise errors.NotFound("there is nothing at this address")

