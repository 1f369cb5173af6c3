"""Which changes move an integration's credentials, and which URLs receive them: one table
row per kind of change or URL."""

import pytest

from integration_hub.integrations.credential_destinations import (
    FieldNeedsShareAccess,
    credential_origins,
    fixed_for_writers,
    moved,
    origin_problems,
    receives_credentials,
    refuse_moving,
    secrets_left_behind,
)

HTTP = {"type": "custom", "category": "crm", "mode": "per-user", "api_base_uri": "https://api.example.com/v1",
        "auth_uri": "https://id.example.com/authorize", "token_uri": "https://id.example.com/token",
        "user_info_uri": None, "revocation_uri": None,
        "data": {"allowedHosts": ["files.example.com", "cdn.example.com"], "timeout": 5,
                 "host": "ignored.example.com"}}
DB_DATA = {"dialect": "postgresql", "host": "db.example.com", "port": 5432, "database": "sales",
           "username": "reporter", "sslmode": "require", "options": {"connect_timeout": "5"}}
DB = {"type": "database", "category": "database", "mode": "shared", "data": DB_DATA}


def change(config, **values):
    return {**config, **values}


def change_data(config, **values):
    return {**config, "data": {**config["data"], **values}}


def without(config, key):
    return {**config, "data": {k: v for k, v in config["data"].items() if k != key}}


@pytest.mark.parametrize(("before", "after", "expected"), [
    (HTTP, HTTP, []),
    (HTTP, change(HTTP, api_base_uri="https://elsewhere.example.net/v1"), ["apiBaseUri"]),
    (HTTP, change(HTTP, api_base_uri="https://api.example.com/v2"), ["apiBaseUri"]),
    (HTTP, change(HTTP, api_base_uri=None), ["apiBaseUri"]),
    (HTTP, change(HTTP, auth_uri="https://x.example/a", token_uri="https://x.example/t"),
     ["authUri", "tokenUri"]),
    (HTTP, change(HTTP, user_info_uri="https://x.example/u"), ["userInfoUri"]),
    (HTTP, change(HTTP, revocation_uri="https://x.example/r"), ["revocationUri"]),
    (HTTP, change_data(HTTP, allowedHosts=["CDN.example.com", "files.example.com "]), []),
    (HTTP, change_data(HTTP, allowedHosts=["files.example.com"]), ["data.allowedHosts"]),
    (HTTP, change_data(HTTP, allowedHosts=["*.example.com"]), ["data.allowedHosts"]),
    (change_data(HTTP, allowedHosts=[]), without(HTTP, "allowedHosts"), []),
    (HTTP, change_data(HTTP, credentialOrigins=["https://files.example.com"]),
     ["data.credentialOrigins"]),
    (change_data(HTTP, credentialOrigins=["https://files.example.com"]),
     change_data(HTTP, credentialOrigins=["https://FILES.example.com:443/"]), []),
    (change_data(HTTP, credentialOrigins=["https://files.example.com"]),
     change_data(HTTP, credentialOrigins=["http://files.example.com"]), ["data.credentialOrigins"]),
    (change_data(HTTP, credentialOrigins=[]), HTTP, []),
    (HTTP, change_data(HTTP, timeout=30, healthCheck="/me", sync={"path": "/x"}), []),
    (HTTP, change(HTTP, name="New", description="d", headers={"X-A": "b"}, scope="s"), []),
    (HTTP, change(HTTP, type="github", category="code"), []),
    (HTTP, change(HTTP, mode="shared"), ["mode"]),
    (change(DB, mode="per-user"), DB, ["mode"]),
    # an HTTP integration's data keys named like a database's move nothing
    (HTTP, change_data(HTTP, host="other.example.com", port=1), []),
    (DB, change_data(DB, host="elsewhere.example.net"), ["data.host"]),
    (DB, without(DB, "host"), ["data.host"]),
    (DB, change_data(DB, host=""), ["data.host"]),
    (DB, change_data(DB, port=6543), ["data.port"]),
    (DB, without(DB, "port"), ["data.port"]),
    (DB, change_data(DB, sslmode="disable"), ["data.sslmode"]),
    (DB, change_data(DB, options={"connect_timeout": "5", "hostaddr": "10.0.0.9"}),
     ["data.options"]),
    (change_data(DB, options={}), without(DB, "options"), []),
    (DB, change_data(DB, dialect="mysql"), ["data.dialect"]),
    (DB, change_data(DB, database="other", username="someone"), []),
    (DB, change(DB, type="mysql"), ["type"]),
    (DB, change(DB, type="custom", category="crm"), ["category", "type"]),
    (DB, change(DB, category="crm"), []),  # type database: the dialect comes from data
    (change(DB, type="custom"), change(DB, type="custom", category="crm"), ["category"]),
    (change(HTTP, data=DB_DATA), change(HTTP, data=DB_DATA, category="database"), ["category"]),
    ({"type": "sqlite", "data": {"path": "a.db"}}, {"type": "sqlite", "data": {"path": "b.db"}},
     ["data.path"]),
    ({"type": "sqlite", "data": {"path": "a.db"}}, {"type": "postgresql", "data": DB_DATA},
     ["data.dialect", "data.host", "data.options", "data.path", "data.port", "data.sslmode",
      "type"]),
])
def test_moved(before, after, expected):
    assert moved(before, after) == sorted(expected)


def test_refuse_moving_names_each_field():
    with pytest.raises(FieldNeedsShareAccess) as refused:
        refuse_moving(HTTP, change(HTTP, api_base_uri="https://x.example", token_uri=None))
    assert refused.value.status == 403
    assert set(refused.value.errors) == {"apiBaseUri", "tokenUri"}
    refuse_moving(HTTP, change(HTTP, description="same destination"))


ALL = ()  # the request brings no secret


@pytest.mark.parametrize(("before", "after", "given", "dropped"), [
    (HTTP, HTTP, ALL, []),
    (HTTP, change(HTTP, name="New", scope="s", headers={"X-A": "b"}), ALL, []),
    # nothing stored goes to the authorization page or the profile endpoint
    (HTTP, change(HTTP, auth_uri="https://x.example/a", user_info_uri="https://x.example/u"),
     ALL, []),
    (HTTP, change(HTTP, mode="shared"), ALL, []),
    (HTTP, change(HTTP, token_uri="https://x.example/t"), ALL, ["client_secret"]),
    (HTTP, change(HTTP, revocation_uri="https://x.example/r"), ALL, ["client_secret"]),
    (HTTP, change(HTTP, token_uri=None), ALL, ["client_secret"]),
    # the API's hosts get the key, and the client secret under basic auth
    (HTTP, change(HTTP, api_base_uri="https://x.example/v1"), ALL, ["api_key", "client_secret"]),
    (HTTP, change_data(HTTP, allowedHosts=["x.example"]), ALL, ["api_key", "client_secret"]),
    (HTTP, change_data(HTTP, allowedHosts=["CDN.example.com", "files.example.com"]), ALL, []),
    (HTTP, change_data(HTTP, credentialOrigins=["https://x.example"]), ALL,
     ["api_key", "client_secret"]),
    # a new secret in the same request is kept; the others still go
    (HTTP, change(HTTP, token_uri="https://x.example/t"), ["client_secret"], []),
    (HTTP, change(HTTP, api_base_uri="https://x.example/v1"), ["client_secret"], ["api_key"]),
    (HTTP, change(HTTP, api_base_uri="https://x.example/v1"), ["credentials"],
     ["api_key", "client_secret"]),
    (DB, change_data(DB, host="elsewhere.example.net"), ALL, ["credentials"]),
    (DB, change_data(DB, sslmode="disable"), ALL, ["credentials"]),
    (DB, change_data(DB, options={"hostaddr": "10.0.0.9"}), ALL, ["credentials"]),
    (DB, change(DB, type="mysql"), ALL, ["credentials"]),
    (DB, change(DB, type="custom", category="crm"), ALL, ["credentials"]),
    (DB, change_data(DB, database="other", username="someone"), ALL, []),
    (DB, change(DB, mode="per-user"), ALL, []),
    (DB, change_data(DB, port=6543), ["credentials"], []),
    ({"type": "sqlite", "data": {"path": "a.db"}}, {"type": "sqlite", "data": {"path": "b.db"}},
     ALL, ["credentials"]),
])
def test_secrets_left_behind(before, after, given, dropped):
    assert secrets_left_behind(before, after, given) == dropped


@pytest.mark.parametrize(("config", "expected"), [
    (HTTP, ["apiBaseUri", "authUri", "tokenUri", "userInfoUri", "revocationUri", "mode"]),
    (DB, ["apiBaseUri", "authUri", "tokenUri", "userInfoUri", "revocationUri", "mode", "type"]),
    ({"type": "custom", "category": "database", "data": DB_DATA},
     ["apiBaseUri", "authUri", "tokenUri", "userInfoUri", "revocationUri", "mode", "type", "category"]),
])
def test_fixed_for_writers(config, expected):
    assert fixed_for_writers(config) == expected


BASE = "https://api.example.com/v1"
NAMED = credential_origins(["https://files.example.com", "http://legacy.example.com:8080/",
                            "*.cdn.example.com", "not an origin", 7])


@pytest.mark.parametrize(("url", "expected"), [
    ("https://api.example.com/v1/items", True),
    ("https://api.example.com/elsewhere", True),         # same origin, another path
    ("https://API.example.com:443/v1", True),
    ("http://api.example.com/v1", False),                # plain HTTP: another origin
    ("http://api.example.com:443/v1", False),            # the port alone does not make it one
    ("https://api.example.com:8443/v1", False),
    ("https://files.example.com/f", True),               # named
    ("https://files.example.com:8443/f", False),
    ("http://files.example.com/f", False),
    ("http://legacy.example.com:8080/x", True),
    ("https://x.cdn.example.com/", False),               # no wildcards
    ("https://evil.example/", False),
    ("https://api.example.com.evil.example/", False),
    ("ftp://api.example.com/", False),
    ("https://api.example.com:bad/", False),
    ("not a url", False),
    ("", False),
])
def test_receives_credentials(url, expected):
    assert receives_credentials(url, BASE, NAMED) is expected


def test_an_allowed_host_is_not_a_credential_origin():
    assert not receives_credentials("https://files.example.com/f", BASE)
    assert receives_credentials("https://api.example.com/x", "https://api.example.com:443/v1")
    assert receives_credentials("http://h:80/x", "http://h/v1")
    assert not receives_credentials("https://api.example.com/x", "not a base")


@pytest.mark.parametrize(("value", "problems"), [
    (None, set()),
    ([], set()),
    (["https://files.example.com", "http://[::1]:8080", "https://h.example:443/"], set()),
    ("https://files.example.com", {"data.credentialOrigins"}),
    (["https://ok.example", "files.example.com", "https://x.example/path", "https://u@x.example",
      "*.example.com", "https://*.example.com", "ftp://x.example", "https://x.example:99999",
      "https://x.example?q", "https://x .example", "https://x.example\n", "https://", 7],
     {f"data.credentialOrigins.{n}" for n in range(1, 13)}),
])
def test_origin_problems(value, problems):
    assert set(origin_problems(value)) == problems
