"""NUL characters at the door: PostgreSQL cannot store U+0000 in text, so a NUL is
refused up front instead of failing deep inside with a database error, on every
backend alike: in a path it names nothing (404), in a query, form or JSON body it is
invalid text (422). The request proxy is exempt: what it carries goes to the upstream, and its
own URL guard refuses control characters in paths.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from integration_hub import errors

EXEMPT = frozenset({"proxy.Raw", "proxy.Envelope"})
FORM_PAGES = frozenset({"web", "connect_pages"})  # the HTML forms
MESSAGE = "NUL characters are not accepted"


def nul_path(value: Any, path: str = "") -> str | None:
    """Where in a parsed JSON document a NUL character is (a dotted path), or None."""
    if isinstance(value, str):
        return path or "_" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return where
            if found := nul_path(item, where):
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if found := nul_path(item, f"{path}.{index}" if path else str(index)):
                return found
    return None


def check_json(document: Any) -> None:
    if request.endpoint in EXEMPT:
        return
    if where := nul_path(document):
        where = where.replace("\x00", "\\x00")
        raise errors.ValidationFailed(f"{where}: {MESSAGE}", errors={where: [MESSAGE]})


def init_app(app: Flask) -> None:
    @app.before_request
    def _refuse_nul_in_the_url_or_form() -> None:
        if request.endpoint in EXEMPT:
            return
        if "\x00" in request.path:
            raise errors.NotFound("nothing is named with a NUL character")
        fields = list(request.args.items(multi=True))
        if request.blueprint in FORM_PAGES:  # API operations read (and check) their own bodies
            fields += list(request.form.items(multi=True))
        if where := next((key for key, value in fields if "\x00" in key + value), None):
            where = where.replace("\x00", "\\x00")
            raise errors.ValidationFailed(f"{where}: {MESSAGE}", errors={where: [MESSAGE]})
