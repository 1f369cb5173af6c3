"""Where an integration's credentials go, and which changes move them (docs/security.md,
"Copies and re-pointing" and "Sync pages: size and credentials").

The stored API key, client secret and database password, and every user's own token,
are sent wherever the configuration says: the OAuth endpoints, the API base's origin and
the origins named in ``data.credentialOrigins``, the database server. Which URL of a call
gets them is ``receives_credentials``: the one rule for a proxied call, its redirects and
a sync's next pages (a host in ``data.allowedHosts`` may be called, but without them).
Changing any of these needs share access (``acl.Access.SHARE``); a writer may change
everything else. Setting a field to the value it already has is no change. A stored
secret never follows such a change: the secrets sent to a moved field are dropped unless
the same request brings new ones, so a secret someone else stored (the operator's OAuth
client secret of a provisioned integration, an owner's key) only ever reaches where it
was stored for.

Pure: configurations are mappings by attribute name (``api_base_uri``, ``data`` ...);
answers use the API's field names (``apiBaseUri``, ``data.host`` ...).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from integration_hub import errors
from integration_hub.databases.dialects import DATABASE, DIALECTS, dialect_of

# URL columns the hub sends credentials to: attribute -> API field.
URIS = {"api_base_uri": "apiBaseUri", "auth_uri": "authUri", "token_uri": "tokenUri",
        "user_info_uri": "userInfoUri", "revocation_uri": "revocationUri"}
# Whose credentials a call uses: per-user (each caller's own) or shared (the stored ones,
# for every reader). Switching to shared hands the stored secrets to every reader.
MODE = {"mode": "mode"}
# Keys of ``data`` deciding which database server (or file) gets the password, and how
# safely: a removed host or port means the driver's default, which is a destination too.
DATABASE_KEYS = ("dialect", "host", "port", "path", "sslmode", "options")
_DATABASE_FIELDS = frozenset(f"data.{key}" for key in DATABASE_KEYS)
# Which fields decide where each stored secret goes (API names, as ``moved`` answers).
# Under any authType: a writer may change authType, so a secret's destinations are every
# place some authType sends it (basic auth sends the client secret to the API's hosts).
SECRET_DESTINATIONS = {
    "client_secret": frozenset({"tokenUri", "revocationUri", "apiBaseUri",
                                "data.allowedHosts", "data.credentialOrigins"}),
    "api_key": frozenset({"apiBaseUri", "data.allowedHosts", "data.credentialOrigins"}),
    "credentials": _DATABASE_FIELDS | {"type", "category"},
}
NEEDS_SHARE_ACCESS = "changing it needs share access (level 3) or ownership"


class FieldNeedsShareAccess(errors.Forbidden):
    code, title = "field_needs_share_access", "Changing where credentials go needs share access"


def destination(config: Mapping[str, Any]) -> dict[str, Any]:
    """Everything in ``config`` that decides where credentials go, by API field name
    (``database``: the engine; the ``data.`` keys of a database count only for one)."""
    data = config.get("data") or {}
    found: dict[str, Any] = {field: config.get(attribute)
                             for attribute, field in (URIS | MODE).items()}
    found["data.allowedHosts"] = _hosts(data.get("allowedHosts"))
    found["data.credentialOrigins"] = _origins(data.get("credentialOrigins"))
    found[DATABASE] = dialect_of(config.get("type"), config.get("category"), data)
    for key in DATABASE_KEYS:
        found[f"data.{key}"] = _given(data.get(key))
    return found


def moved(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The fields (API names) whose change from ``before`` to ``after`` moves credentials.

    A database's keys count when it is a database before or after; a change of engine
    through ``type`` or ``category`` names that field, through ``data.dialect`` that key.
    """
    old, new = destination(before), destination(after)
    database = bool(old[DATABASE] or new[DATABASE])
    fields = {field for field in old if field != DATABASE and old[field] != new[field]
              and (database or field not in _DATABASE_FIELDS)}
    if old[DATABASE] != new[DATABASE]:
        fields.update(name for name in ("type", "category")
                      if before.get(name) != after.get(name))
    return sorted(fields)


def refuse_moving(before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
    """403 naming every field whose change moves credentials (for callers below share
    access)."""
    fields = moved(before, after)
    if fields:
        raise FieldNeedsShareAccess(
            f"changing {', '.join(fields)} needs share access (level 3) or ownership: "
            "it decides where the integration's credentials are sent",
            errors={field: [NEEDS_SHARE_ACCESS] for field in fields})


def secrets_left_behind(before: Mapping[str, Any], after: Mapping[str, Any],
                        given: Iterable[str]) -> list[str]:
    """The stored secrets (attribute names) to drop when ``before`` becomes ``after``:
    those sent to a moved field, unless ``given`` (the secrets the same request sets)
    names them."""
    fields = set(moved(before, after))
    kept = set(given)
    return sorted(secret for secret, destinations in SECRET_DESTINATIONS.items()
                  if secret not in kept and fields & destinations)


def fixed_for_writers(config: Mapping[str, Any]) -> list[str]:
    """Top-level fields a writer (share level 2) can only send back unchanged: the URIs,
    the mode, and for a database the fields its engine comes from."""
    fields = [*URIS.values(), *MODE.values()]
    if dialect_of(config.get("type"), config.get("category"), config.get("data")):
        fields.append("type")
        if config.get("type") not in (*DIALECTS, DATABASE):
            fields.append("category")
    return fields


Origin = tuple[str, str, int]  # scheme, lower-case host, port
DEFAULT_PORTS = {"http": 80, "https": 443}
ORIGIN_PROBLEM = "must be an origin: http(s)://host or http(s)://host:port, nothing more"
_ORIGIN = re.compile(r"https?://(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
                     r"(?::[0-9]{1,5})?/?", re.ASCII)


@functools.lru_cache(maxsize=1024)  # a pure function of the text, asked on every call
def origin_of(url: str) -> Origin | None:
    """The origin of an absolute http(s) URL; None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def _origin_entry(entry: Any) -> Origin | None:
    """A ``data.credentialOrigins`` entry's origin, when the entry is exactly one (ASCII,
    a host name or an IP address, no user info, no path, no wildcard)."""
    if not isinstance(entry, str) or not _ORIGIN.fullmatch(entry):
        return None
    return origin_of(entry)


def credential_origins(value: Any) -> frozenset[Origin]:
    """The origins ``data.credentialOrigins`` names; an entry that is not one names none."""
    entries = value if isinstance(value, list) else []
    return frozenset(filter(None, map(_origin_entry, entries)))


def origin_problems(value: Any) -> dict[str, list[str]]:
    """Why ``data.credentialOrigins`` is not a list of origins, by entry (API paths)."""
    if value is None:
        return {}
    if not isinstance(value, list):
        return {"data.credentialOrigins": ["must be a list of origins"]}
    return {f"data.credentialOrigins.{n}": [ORIGIN_PROBLEM]
            for n, entry in enumerate(value) if _origin_entry(entry) is None}


def receives_credentials(url: str, base: str, named: Iterable[Origin] = ()) -> bool:
    """Whether a request to ``url`` may carry the integration's credentials: only when its
    origin (scheme, host and port) is the origin of ``base`` (``apiBaseUri``, expanded) or
    one the integration names in ``data.credentialOrigins``. Another path on the same
    origin is the same server; another port, scheme or host (an allowed host included)
    is not. Whatever does not parse receives nothing."""
    origin = origin_of(url)
    return origin is not None and (origin == origin_of(base) or origin in set(named))


def _hosts(value: Any) -> Any:
    """Allowed hosts compare as a set of lower-case names (order and case do not move
    anything); anything else as it is."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return frozenset(item.strip().lower() for item in value)
    return _given(value) or frozenset()


def _origins(value: Any) -> Any:
    """Credential origins compare as a set of origins (``https://X.example:443/`` is
    ``https://x.example``); an entry that is none as its text."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return frozenset(_origin_entry(item) or item for item in value)
    return _given(value) or frozenset()


def _given(value: Any) -> Any:
    """None for a value that says nothing (absent, empty): the driver's default applies."""
    return None if value in (None, "", {}, []) else value
