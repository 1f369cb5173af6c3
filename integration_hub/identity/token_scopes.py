"""What an API token may do: its scopes, and the scope each request needs.

Three scopes (docs/security.md, "API tokens: lineage and scopes"):

- ``read``: GET, HEAD and OPTIONS on the API, the request proxy's doors aside;
- ``proxy``: the request proxy (``.../request`` and ``.../request/<path>``), every method;
- ``admin``: anything the token's user may do, writes and token management included. It
  includes the other two, so a token holding it is stored and shown with all three.

A scope never adds to what the user may do: the user's own grant still decides, after it.
Everything here is pure; ``edge/security.py`` applies it once per request, at authentication.
"""

from __future__ import annotations

from collections.abc import Iterable

READ, PROXY, ADMIN = "read", "proxy", "admin"
SCOPES = (READ, PROXY, ADMIN)  # the order they are stored and shown in
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def unknown(requested: Iterable[str]) -> list[str]:
    """The names in ``requested`` that are no scope, in the order given."""
    return [name for name in requested if name not in SCOPES]


def normalised(requested: Iterable[str]) -> tuple[str, ...]:
    """Known scopes in their order, once each; ``admin`` brings the others with it."""
    wanted = set(requested)
    if ADMIN in wanted:
        return SCOPES
    return tuple(scope for scope in SCOPES if scope in wanted)


def beyond(requested: Iterable[str], granted: Iterable[str]) -> list[str]:
    """The scopes of ``requested`` (normalised) that ``granted`` does not hold."""
    held = set(granted)
    return [scope for scope in normalised(requested) if scope not in held]


def needed(method: str, marked: str | None = None) -> str:
    """The scope a request needs: the one its view is marked with, else ``read`` for the
    methods that only look and ``admin`` for the rest."""
    if marked is not None:
        return marked
    return READ if method.upper() in SAFE_METHODS else ADMIN


def stored(scopes: Iterable[str]) -> str:
    """The column's text: normalised scopes separated by spaces."""
    return " ".join(normalised(scopes))


def parsed(text: str | None) -> tuple[str, ...]:
    return normalised((text or "").split())
