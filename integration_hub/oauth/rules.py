"""Pure parts of the OAuth2 flow: PKCE, the authorize URL, the browser binding, return
targets, expiry, usable token answers, account mapping and retry backoff. No database, no
network, no Flask."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

STATE_LIFETIME = timedelta(minutes=10)
# Lifetimes an authorization server gives (``expires_in``) are taken within these bounds
# (docs/security.md, "Token lifetimes from outside"): a negative or zero lifetime would
# have every call refresh, one of 31,000 years overflows the calendar.
MIN_LIFETIME = timedelta(seconds=60)
MAX_LIFETIME = timedelta(days=365)
# A token the hub refreshed this recently is used as it is, whatever its expiry says: with
# a lifetime shorter than the refresh skew every call would otherwise ask for a new one.
MIN_REFRESH_INTERVAL = timedelta(seconds=30)
# Fields of a token response that are credentials and never become ${connection.*}.
TOKEN_SECRET_FIELDS = frozenset({"access_token", "refresh_token", "id_token", "token_type",
                                 "expires_in", "expires_at", "scope",
                                 "refresh_token_expires_in"})


# The cookie binding a flow to the browser that started it: one per flow (two tabs may
# connect at once), named after its state's digest.
FLOW_COOKIE_PREFIX = "ihub_oauth_"


# What stands in for an OAuth client id nobody has registered yet (the demo's GitHub has it):
# an integration with it, or with none, needs an administrator before anyone can connect.
UNSET_CLIENT_ID = "replace-with-your-client-id"
_UNSET_CLIENT_ID_PREFIX = "replace-with"


def client_id_unset(client_id: str | None) -> bool:
    """No client id, or the marker put in its place (``replace-with-...``): sending a
    browser to the provider with it only earns an error page there."""
    value = (client_id or "").strip().lower()
    return not value or value.startswith(_UNSET_CLIENT_ID_PREFIX)


def new_state() -> str:
    """256 random bits: a state, a one-time start address's nonce, a browser binding."""
    return secrets.token_urlsafe(32)


def state_digest(state: str) -> str:
    """SHA-256 (hex) of a secret as the database keeps it; any text a client sends."""
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()


def flow_cookie_name(state: str) -> str:
    return FLOW_COOKIE_PREFIX + state_digest(state)[:16]


def binding_matches(bound_digest: str | None, presented: str | None) -> bool:
    """Whether the cookie a browser presented is the one the flow was bound to, compared
    in constant time; a flow bound to no browser yet matches none."""
    if not bound_digest or not presented:
        return False
    return hmac.compare_digest(bound_digest, state_digest(presented))


def new_code_verifier() -> str:
    """RFC 7636: 43-128 characters from the unreserved set (here 64)."""
    return secrets.token_urlsafe(48)


def code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(auth_uri: str, *, client_id: str, redirect_uri: str, state: str,
                  scope: str | None, challenge: str | None,
                  extra: Mapping[str, str] | None = None) -> str:
    """``auth_uri`` with the authorization request added to whatever query it has.

    Extra parameters (``data.authParams``) cannot override the protocol ones.
    """
    params: dict[str, str] = {str(k): str(v) for k, v in (extra or {}).items()}
    params.update({"response_type": "code", "client_id": client_id,
                   "redirect_uri": redirect_uri, "state": state})
    if scope:
        params["scope"] = scope
    if challenge:
        params["code_challenge"] = challenge
        params["code_challenge_method"] = "S256"
    parts = urlsplit(auth_uri)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def safe_return_to(value: str | None, hub_origin: str, allowed_origins: Iterable[str]) -> str | None:
    """A same-origin path, or an absolute URL on the hub or an allow-listed origin.

    Anything else (other hosts, ``//host``, backslashes, schemes other than
    http(s), control characters) is refused with ValueError: no open redirect.
    """
    if value is None or value == "":
        return None
    if any(ord(c) < 0x20 or c == "\x7f" for c in value) or "\\" in value:
        raise ValueError("returnTo contains forbidden characters")
    if value.startswith("/"):
        if value.startswith("//"):
            raise ValueError("returnTo must be a path on the hub or an allowed origin")
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.username or parts.password:
        raise ValueError("returnTo must be a path on the hub or an allowed origin")
    allowed = {o.rstrip("/").lower() for o in allowed_origins} | {hub_origin.lower()}
    if origin(value) not in allowed:
        raise ValueError("returnTo's origin is not in HUB_ALLOWED_RETURN_ORIGINS")
    return value


def with_result(return_to: str, **params: str) -> str:
    """``return_to`` with ``status=...`` (and ``code=...``) added to its query."""
    parts = urlsplit(return_to)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def seconds(value: Any) -> float | None:
    """A lifetime field as a number of seconds, or None when it is no number (a word, NaN,
    true). A number too large for a double (``1e400``) is infinite; never raises."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(value) if abs(value) < 2 ** 1000 else math.inf if value > 0 else -math.inf
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, str) and _JSON_NUMBER.fullmatch(value):
        # a number's text: sent as a string ("3600"), or kept as text by the hub's JSON
        # reader because it is beyond a double ("1e400"); at worst infinite
        return float(value)
    return None


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


LIFETIME_FIELDS = ("expires_in", "expires_at", "refresh_token_expires_in")
_BEYOND = 10 ** 12  # seconds: far beyond MAX_LIFETIME and any date, still an ordinary number


def bounded_lifetimes(document: Mapping[str, Any]) -> dict[str, Any] | None:
    """The token answer with its lifetime numbers brought within +-10^12 (still beyond any
    bound, as negative or as large as before) so that any parser takes them, or None when
    nothing needed it. ``1e400`` would overflow a conversion to an integer."""
    changed = {}
    for name in LIFETIME_FIELDS:
        span = seconds(document.get(name))
        if span is not None and (abs(span) > _BEYOND or isinstance(document[name], str)):
            changed[name] = int(math.copysign(min(abs(span), _BEYOND), span))
    return {**document, **changed} if changed else None


def _clamped(span: float) -> timedelta:
    return timedelta(seconds=min(max(span, MIN_LIFETIME.total_seconds()),
                                 MAX_LIFETIME.total_seconds()))


def expiry(token: Mapping[str, Any], now: datetime, field: str = "expires_in") -> datetime | None:
    """When a token expires, from ``expires_in`` seconds (or ``expires_at`` epoch), taken
    between ``MIN_LIFETIME`` and ``MAX_LIFETIME`` from ``now``; None when not given or no
    number."""
    value = token.get(field)
    if value is not None:
        span = seconds(value)
        return None if span is None else now + _clamped(span)
    if field == "expires_in" and token.get("expires_at") is not None:
        moment = seconds(token["expires_at"])
        return None if moment is None else now + _clamped(moment - now.timestamp())
    return None


def lifetime_problem(token: Mapping[str, Any]) -> str | None:
    """What is absurd about the lifetime a token answer gives (negative, or beyond
    ``MAX_LIFETIME``), or None. A lifetime below ``MIN_LIFETIME`` is odd, not absurd."""
    span = seconds(token.get("expires_in"))
    if span is None:
        return None
    if span < 0:
        return (f"the token's expires_in is negative; the hub takes "
                f"{MIN_LIFETIME.total_seconds():.0f} s")
    if span > MAX_LIFETIME.total_seconds():
        return "the token's expires_in is more than a year; the hub takes a year"
    return None


def needs_refresh(expires_at: datetime | None, now: datetime, skew: timedelta,
                  refreshed_at: datetime | None = None) -> bool:
    """Whether a token expiring at ``expires_at`` is due for a refresh ``skew`` ahead;
    never within ``MIN_REFRESH_INTERVAL`` after the hub refreshed it (``refreshed_at``)."""
    if refreshed_at is not None and now - refreshed_at < MIN_REFRESH_INTERVAL:
        return False
    return expires_at is not None and expires_at - skew <= now


def pick(document: Any, path: str | None) -> Any:
    """The value at a dotted path (``data.email``, ``bot.owner.user.id``), or None."""
    if not path:
        return None
    current = document
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


ACCOUNT_FIELDS = ("email", "displayName", "accountId")  # what a connection keeps of its account
DEFAULT_ACCOUNT_FIELDS = {"email": "email", "displayName": "name", "accountId": "sub"}


def account_from_userinfo(userinfo: Mapping[str, Any],
                          fields: Mapping[str, str | None] | None) -> dict[str, str | None]:
    mapping = fields or DEFAULT_ACCOUNT_FIELDS
    account = {}
    for name in ACCOUNT_FIELDS:
        value = pick(userinfo, mapping.get(name))
        account[name] = None if value is None else str(value)
    return account


def backoff(failures: int, base: float = 2.0, cap: float = 300.0) -> timedelta:
    """How long to wait after ``failures`` consecutive transient failures."""
    return timedelta(seconds=min(cap, base ** max(1, failures)))


def token_fields(token: Mapping[str, Any]) -> dict[str, Any]:
    """The non-credential fields of a token response (``instance_url`` ...)."""
    return {k: v for k, v in token.items() if k not in TOKEN_SECRET_FIELDS}


def token_answer_problem(document: Any) -> str | None:
    """What makes a token endpoint's (successful) answer unusable, or None (RFC 6749 5.1)."""
    if not isinstance(document, Mapping):
        return "it is not a JSON object"
    if not isinstance(document.get("access_token"), str) or not document["access_token"]:
        return "it has no access_token"
    for name in ("token_type", "refresh_token", "id_token"):
        if document.get(name) is not None and not isinstance(document[name], str):
            return f"its {name} is not a string"
    for name in LIFETIME_FIELDS:
        if document.get(name) is not None and seconds(document[name]) is None:
            return f"its {name} is not a number of seconds"
    scope = document.get("scope")
    if scope is not None and not (isinstance(scope, str) or (
            isinstance(scope, list) and all(isinstance(item, str) for item in scope))):
        return "its scope is neither a string nor a list of strings"
    return None

