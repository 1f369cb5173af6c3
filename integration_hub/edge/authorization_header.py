"""The API token in an ``Authorization`` header: ``Bearer <token>``, or HTTP Basic with the
token as user name and an empty password (``curl -u '<token>:'``), as Nanonets and many
hosted APIs take it (docs/security.md, "API tokens over HTTP Basic").

Basic credentials are something browsers keep once a user has typed them (or followed a
link carrying them) and send again on their own, to any request for the origin, a
cross-site form's included; a bearer header they never add by themselves. So Basic is
taken only from programs: a request a browser made says so in its ``Sec-Fetch-*`` or
``Origin`` headers, and such a request with Basic credentials is refused. The hub's
challenges name only ``Bearer``, so no browser is ever asked for Basic credentials.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from integration_hub import errors

BROWSER_HEADERS = ("Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-Dest", "Origin")
MAX_BASIC = 1024  # characters of encoded credentials: a token is under 100


class BasicFromBrowser(errors.AuthenticationRequired):
    code, title = "basic_auth_from_browser", "HTTP Basic credentials are taken from programs only"


def api_token_of(header: str, request_headers: Mapping[str, str]) -> str:
    """The token ``header`` carries; ``AuthenticationRequired`` (401) for anything else."""
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and credentials:
        return credentials
    if scheme.lower() == "basic" and credentials:
        if any(name in request_headers for name in BROWSER_HEADERS):
            raise BasicFromBrowser(
                "a browser sent HTTP Basic credentials, which browsers keep and send again on "
                "their own: send 'Authorization: Bearer <api token>' instead")
        return _basic_token(credentials)
    raise errors.AuthenticationRequired(
        "use 'Authorization: Bearer <api token>' or HTTP Basic with the token as user name")


def _basic_token(encoded: str) -> str:
    """The user name of ``user:`` credentials, strictly: valid base64 of UTF-8, an empty
    password."""
    try:
        if len(encoded) > MAX_BASIC:
            raise ValueError
        text = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise errors.AuthenticationRequired("the HTTP Basic credentials are not valid base64 "
                                            "of 'user:password'") from None
    user, colon, password = text.partition(":")
    if not colon or not user:
        raise errors.AuthenticationRequired(
            "with HTTP Basic, give the API token as the user name and an empty password "
            "('<token>:')")
    if password:
        raise errors.AuthenticationRequired(
            "with HTTP Basic, the password must be empty: the API token is the user name "
            "('<token>:'); the hub takes no account passwords here")
    return user
