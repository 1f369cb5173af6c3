"""Watch every test request for secrets sent to the hub, and every answer and log
line for those secrets coming back out; also check the links of every answer.

Any secret value a test sends in a secret field (``clientSecret``, ``apiKey``,
``credentials``, ``password``...) is remembered for the whole run; every answer
body, answer header and log record is checked against all remembered secrets.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from flask.testing import FlaskClient

from integration_hub import hal
from integration_hub.rels import RELATIONS

SECRET_FIELDS = frozenset({"clientSecret", "apiKey", "credentials", "password", "token", "secret",
                           "accessToken", "refreshToken", "code", "codeVerifier"})
MIN_LENGTH = 8  # shorter values ("k1") would match by accident


class SecretWatch(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.secrets: set[str] = set()
        self.leaks: list[str] = []

    def remember(self, values: Iterable[Any]) -> None:
        for value in values:
            if isinstance(value, dict):
                self.remember(value.values())
            elif isinstance(value, str) and len(value) >= MIN_LENGTH:
                self.secrets.add(value)

    def remember_request(self, body: Any) -> None:
        if isinstance(body, dict):
            self.remember(v for k, v in body.items() if k in SECRET_FIELDS)

    def check(self, where: str, text: str) -> None:
        for secret in self.secrets:
            if secret in text:
                self.leaks.append(f"{where} contains a secret ({secret[:3]}...)")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.check(f"log record from {record.name}", self.format(record))
        except Exception:  # never break the code under test
            self.handleError(record)

    def take_leaks(self) -> list[str]:
        leaks, self.leaks = self.leaks, []
        return leaks


WATCH = SecretWatch()


def link_problems(document: Any, known_rels: set[str]) -> list[str]:
    """HAL hygiene of one answer: every ``inf:`` relation is documented and every
    link says ``templated`` exactly when its href is a URI template."""
    found: list[str] = []
    if isinstance(document, list):
        for item in document:
            found.extend(link_problems(item, known_rels))
        return found
    if not isinstance(document, dict):
        return found
    for rel, value in (document.get("_links") or {}).items():
        if rel.startswith("inf:") and rel[4:] not in known_rels:
            found.append(f"undocumented relation {rel}")
        for item in value if isinstance(value, list) else [value]:
            if item.get("templated", False) != hal.is_uri_template(item["href"]):
                found.append(f"{rel}: templated flag does not match {item['href']}")
    for rel, value in (document.get("_embedded") or {}).items():
        if rel.startswith("inf:") and rel[4:] not in known_rels:
            found.append(f"undocumented relation {rel}")
        found.extend(link_problems(value, known_rels))
    return found


class WatchedClient(FlaskClient):
    """A test client that reports secrets to ``WATCH`` and checks every answer."""

    def open(self, *args: Any, **kwargs: Any):
        WATCH.remember_request(kwargs.get("json"))
        answer = super().open(*args, **kwargs)
        where = f"answer to {answer.request.method} {answer.request.path}"
        if not answer.is_streamed:
            WATCH.check(where, answer.get_data(as_text=True))
            if answer.mimetype in ("application/hal+json", "application/json"):
                WATCH.leaks.extend(f"{where}: {problem}" for problem in
                                   link_problems(answer.get_json(silent=True), set(RELATIONS)))
        WATCH.check(where + " headers", str(answer.headers))
        return answer
