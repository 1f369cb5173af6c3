"""Pure OAuth helpers: PKCE, the authorize URL, return targets, expiry, accounts, backoff."""

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from integration_hub.oauth import rules as oauth_rules
from integration_hub.proxy.credentials import basic_authorization, place_credentials

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_pkce_pair_follows_rfc_7636():
    verifier = oauth_rules.new_code_verifier()
    assert 43 <= len(verifier) <= 128
    assert set(verifier) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert oauth_rules.code_challenge(verifier) == expected.decode()
    # RFC 7636 appendix B example
    assert oauth_rules.code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == \
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert oauth_rules.new_code_verifier() != verifier


def test_state_is_random_and_stored_as_a_digest():
    state = oauth_rules.new_state()
    assert len(state) >= 40 and oauth_rules.new_state() != state
    digest = oauth_rules.state_digest(state)
    assert len(digest) == 64 and state not in digest


def test_the_browser_binding_matches_only_its_own_cookie():
    value = oauth_rules.new_state()
    bound = oauth_rules.state_digest(value)
    assert oauth_rules.binding_matches(bound, value)
    assert not oauth_rules.binding_matches(bound, value[:-1])
    assert not oauth_rules.binding_matches(bound, oauth_rules.new_state())
    assert not oauth_rules.binding_matches(bound, bound)  # the digest is not the cookie
    assert not oauth_rules.binding_matches(bound, None)
    assert not oauth_rules.binding_matches(bound, "")
    # a flow no browser opened yet (started with an API token) matches nothing
    assert not oauth_rules.binding_matches(None, value)
    assert not oauth_rules.binding_matches("", "")
    assert not oauth_rules.binding_matches(bound, "\ud800")  # any text a browser sends


def test_each_flow_has_a_cookie_of_its_own():
    state, other = oauth_rules.new_state(), oauth_rules.new_state()
    name = oauth_rules.flow_cookie_name(state)
    assert name == oauth_rules.flow_cookie_name(state) != oauth_rules.flow_cookie_name(other)
    assert name.startswith("ihub_oauth_") and name.removeprefix("ihub_oauth_").isalnum()
    assert state not in name
    assert oauth_rules.flow_cookie_name("a;b=c\r\n").removeprefix("ihub_oauth_").isalnum()


def test_authorize_url_keeps_existing_query_and_protocol_params_win():
    url = oauth_rules.authorize_url(
        "https://idp.example/authorize?tenant=acme", client_id="cid",
        redirect_uri="https://hub.example/hub/oauth2/callback", state="s1", scope="a b",
        challenge="ch", extra={"access_type": "offline", "state": "evil", "redirect_uri": "x"})
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "idp.example", "/authorize")
    assert query == {"tenant": ["acme"], "access_type": ["offline"], "state": ["s1"],
                     "redirect_uri": ["https://hub.example/hub/oauth2/callback"],
                     "response_type": ["code"], "client_id": ["cid"], "scope": ["a b"],
                     "code_challenge": ["ch"], "code_challenge_method": ["S256"]}


def test_authorize_url_without_pkce_or_scope():
    query = parse_qs(urlsplit(oauth_rules.authorize_url(
        "https://idp.example/auth", client_id="c", redirect_uri="https://h/cb", state="s",
        scope=None, challenge=None)).query)
    assert "code_challenge" not in query and "scope" not in query


HUB = "https://hub.example.org"


@pytest.mark.parametrize("value, expected", [
    (None, None), ("", None),
    ("/", "/"), ("/integrations?tab=1", "/integrations?tab=1"),
    ("https://hub.example.org/done", "https://hub.example.org/done"),
    ("https://app.example.com/after", "https://app.example.com/after"),
    ("HTTPS://APP.EXAMPLE.COM/x", "HTTPS://APP.EXAMPLE.COM/x"),
])
def test_safe_return_to_accepts(value, expected):
    assert oauth_rules.safe_return_to(value, HUB, ["https://app.example.com"]) == expected


@pytest.mark.parametrize("value", [
    "//evil.example/x", "https://evil.example/x", "http://hub.example.org/x",
    "https://app.example.com.evil.example/", "https://user@app.example.com/",
    "javascript:alert(1)", "/\\evil.example", "\\\\evil.example", "/path\r\nX: y",
    "ftp://app.example.com/", "evil.example/x", "https:///x",
])
def test_safe_return_to_refuses(value):
    with pytest.raises(ValueError):
        oauth_rules.safe_return_to(value, HUB, ["https://app.example.com"])


def test_with_result_appends_to_the_query():
    assert oauth_rules.with_result("/x?a=1#top", status="error", code="state_expired") == \
        "/x?a=1&status=error&code=state_expired#top"


YEAR = timedelta(days=365)


@pytest.mark.parametrize("token, expected", [
    ({"expires_in": 3600}, NOW + timedelta(hours=1)),
    ({"expires_in": "60"}, NOW + timedelta(minutes=1)),
    # lifetimes are taken between a minute and a year (docs/security.md)
    ({"expires_in": 0}, NOW + timedelta(minutes=1)),
    ({"expires_in": -5}, NOW + timedelta(minutes=1)),
    ({"expires_in": 10 ** 12}, NOW + YEAR),
    ({"expires_in": 10 ** 400}, NOW + YEAR),
    ({"expires_in": float("inf")}, NOW + YEAR),
    ({"expires_in": float("-inf")}, NOW + timedelta(minutes=1)),
    ({"expires_in": "9" * 5000}, NOW + YEAR),
    ({"expires_at": int((NOW + timedelta(minutes=5)).timestamp())}, NOW + timedelta(minutes=5)),
    ({"expires_at": 10 ** 15}, NOW + YEAR), ({"expires_at": 0}, NOW + timedelta(minutes=1)),
    ({"refresh_token_expires_in": 1e300}, None),  # another field: not expires_in's
    ({}, None), ({"expires_in": "soon"}, None), ({"expires_in": float("nan")}, None),
    ({"expires_in": True}, None), ({"expires_in": "NaN"}, None),
    ({"expires_in": "Infinity"}, None), ({"expires_in": "1e3x"}, None),
    # a number's text: sent as a string, or kept as text by the hub's JSON reader because
    # it is beyond a double
    ({"expires_in": "-5"}, NOW + timedelta(minutes=1)),
    ({"expires_in": "1.5e3"}, NOW + timedelta(seconds=1500)),
    ({"expires_in": "1e400"}, NOW + YEAR), ({"expires_in": "-1e400"}, NOW + timedelta(minutes=1)),
])
def test_expiry(token, expected):
    assert oauth_rules.expiry(token, NOW) == expected


def test_expiry_of_another_field_is_clamped_too():
    assert oauth_rules.expiry({"refresh_token_expires_in": 1e300}, NOW,
                              "refresh_token_expires_in") == NOW + YEAR


@pytest.mark.parametrize("expires_in, noted", [
    (3600, False), (0, False), (59, False), (YEAR.total_seconds(), False), ("120", False),
    (-5, True), (YEAR.total_seconds() + 1, True), (1e12, True), (float("inf"), True),
    (None, False), ("soon", False),  # no number: not a lifetime problem (the answer is no token)
])
def test_lifetime_problem(expires_in, noted):
    assert (oauth_rules.lifetime_problem({"expires_in": expires_in}) is not None) is noted


@pytest.mark.parametrize("document, bounded", [
    ({"expires_in": 3600}, None),
    ({"expires_in": float("inf")}, {"expires_in": 10 ** 12}),
    ({"expires_in": -1e300, "x": 1}, {"expires_in": -10 ** 12, "x": 1}),
    ({"expires_at": 10 ** 400}, {"expires_at": 10 ** 12}),
    ({"refresh_token_expires_in": "77"}, {"refresh_token_expires_in": 77}),
    ({"expires_in": "soon"}, None),
    ({"expires_in": "1e400"}, {"expires_in": 10 ** 12}),
])
def test_bounded_lifetimes_convert_to_integers(document, bounded):
    assert oauth_rules.bounded_lifetimes(document) == bounded


@pytest.mark.parametrize("expires_at, due", [
    (None, False), (NOW + timedelta(minutes=5), False), (NOW + timedelta(seconds=61), False),
    (NOW + timedelta(seconds=60), True), (NOW - timedelta(seconds=1), True)])
def test_needs_refresh_with_skew(expires_at, due):
    assert oauth_rules.needs_refresh(expires_at, NOW, timedelta(seconds=60)) is due


@pytest.mark.parametrize("refreshed_ago, due", [
    (None, True), (timedelta(seconds=1), False), (timedelta(seconds=29), False),
    (timedelta(seconds=30), True), (timedelta(hours=1), True)])
def test_a_token_just_refreshed_is_not_due_again(refreshed_ago, due):
    refreshed_at = None if refreshed_ago is None else NOW - refreshed_ago
    assert oauth_rules.needs_refresh(NOW - timedelta(seconds=1), NOW, timedelta(seconds=60),
                                     refreshed_at) is due


def test_account_mapping_with_dotted_paths():
    profile = {"data": {"email": "a@x.io", "name": "Ada", "gid": 42},
               "bot": {"owner": {"user": [{"id": "u1"}]}}}
    assert oauth_rules.account_from_userinfo(profile, {
        "email": "data.email", "displayName": "data.name", "accountId": "bot.owner.user.0.id"}) == \
        {"email": "a@x.io", "displayName": "Ada", "accountId": "u1"}
    assert oauth_rules.account_from_userinfo({"sub": 7, "email": "e@x.io"}, None) == \
        {"email": "e@x.io", "displayName": None, "accountId": "7"}
    assert oauth_rules.account_from_userinfo({}, {"email": None}) == \
        {"email": None, "displayName": None, "accountId": None}


def test_backoff_grows_and_is_capped():
    waits = [oauth_rules.backoff(n) for n in range(1, 12)]
    assert waits == sorted(waits) and waits[0] == timedelta(seconds=2)
    assert waits[-1] == timedelta(seconds=300)


def test_token_fields_exclude_credentials():
    assert oauth_rules.token_fields({"access_token": "a", "refresh_token": "r", "id_token": "i",
                                     "expires_in": 1, "scope": "x", "token_type": "Bearer",
                                     "instance_url": "https://na1.example"}) == \
        {"instance_url": "https://na1.example"}


@pytest.mark.parametrize("auth_type, secrets, headers, params", [
    ("none", {}, {}, {}),
    ("oauth2", {"access_token": "t1", "token_type": "bearer"}, {"Authorization": "Bearer t1"}, {}),
    ("oauth2", {"access_token": "t1", "token_type": "MAC"}, {"Authorization": "MAC t1"}, {}),
    ("bearer", {"api_key": "k"}, {"Authorization": "Bearer k"}, {}),
    ("apikey", {"api_key": "k"}, {"X-API-Key": "k"}, {}),
    ("basic", {"username": "u", "password": "p:w"}, {"Authorization": "Basic dTpwOnc="}, {}),
])
def test_place_credentials(auth_type, secrets, headers, params):
    placed = place_credentials(auth_type, secrets=secrets)
    assert (placed.headers, placed.params) == (headers, params)


def test_place_credentials_query_key_and_missing_secret():
    placed = place_credentials("apikey", api_key_location="query", api_key_name="key",
                               secrets={"api_key": "k"})
    assert placed.params == {"key": "k"} and placed.headers == {}
    for auth_type in ("oauth2", "bearer", "apikey", "basic"):
        assert place_credentials(auth_type, secrets={}) is None
    assert basic_authorization("ü", "p") == "Basic w7w6cA=="


@pytest.mark.parametrize(("client_id", "unset"), [
    (None, True), ("", True), ("   ", True),
    ("replace-with-your-client-id", True), ("Replace-With-Client-ID", True),
    (" replace-with-your-client-id ", True),
    ("hub-client", False), ("Iv1.8a61f9b3a7aba766", False), ("zebra-client-id", False),
    ("123-abc.apps.googleusercontent.com", False), ("your-client", False),
])
def test_a_client_id_nobody_has_set_yet(client_id, unset):
    assert oauth_rules.client_id_unset(client_id) is unset
