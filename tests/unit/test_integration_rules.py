"""Pure rules for integration configuration and the ACL arithmetic."""

import pytest

from integration_hub.integrations.acl import Access, effective_access
from integration_hub.integrations.rules import (
    configuration_errors,
    credential_header,
    header_problems,
    is_uuid,
    slug_problem,
    slugify,
    url_problem,
    with_suffix,
)


@pytest.mark.parametrize("name, slug", [
    ("GitHub Eng", "github-eng"),
    ("  Google   Drive -- Sales ", "google-drive-sales"),
    ("Café Münster", "cafe-munster"),
    ("日本語", "integration"),
    ("---", "integration"),
    ("a" * 200, "a" * 120),
    ("12345678-1234-1234-1234-123456789abc", "12345678-1234-1234-1234-123456789abc-x"),
])
def test_slugify(name, slug):
    assert slugify(name) == slug
    assert slug_problem(slugify(name)) is None


@pytest.mark.parametrize("slug, number, expected", [
    ("crm", 1, "crm"), ("crm", 2, "crm-2"), ("crm", 11, "crm-11"),
    ("a" * 120, 2, "a" * 118 + "-2"),
])
def test_with_suffix(slug, number, expected):
    assert with_suffix(slug, number) == expected
    assert len(with_suffix(slug, number)) <= 120


@pytest.mark.parametrize("slug, ok", [
    ("crm", True), ("crm-2", True), ("a", True), ("Crm", False), ("-crm", False),
    ("crm-", False), ("crm_x", False), ("c rm", False), ("", False),
    ("12345678-1234-1234-1234-123456789abc", False),
])
def test_slug_problem(slug, ok):
    assert (slug_problem(slug) is None) == ok


@pytest.mark.parametrize("value, ok", [
    ("12345678-1234-1234-1234-123456789abc", True),
    ("12345678-1234-1234-1234-123456789ABC", True),
    ("12345678123412341234123456789abc", False),
    ("not-a-uuid", False), ("", False),
])
def test_is_uuid(value, ok):
    assert is_uuid(value) == ok


@pytest.mark.parametrize("url, placeholders, ok", [
    ("https://api.example.com/v1", False, True),
    ("http://127.0.0.1:8080", False, True),
    ("ftp://example.com", False, False),
    ("/relative/path", False, False),
    ("https://", False, False),
    ("https://user:pw@example.com", False, False),
    ("https://example.com/a b", False, False),
    ("https://example.com/\r\nX: y", False, False),
    ("https://example.com:99999", False, False),
    ("${connection.instance_url}/services/data", True, True),
    ("${connection.instance_url}/services/data", False, False),
    ("https://${connection.host}.example.com/api", True, True),
    ("https://${connection.host}.example.com/api", False, False),
])
def test_url_problem(url, placeholders, ok):
    assert (url_problem(url, placeholders=placeholders) is None) == ok


@pytest.mark.parametrize("auth_type, location, name, expected", [
    ("oauth2", "header", "X-API-Key", "authorization"),
    ("bearer", "header", "X-API-Key", "authorization"),
    ("basic", "header", "X-API-Key", "authorization"),
    ("apikey", "header", "X-Token", "x-token"),
    ("apikey", "query", "api_key", None),
    ("none", "header", "X-API-Key", None),
])
def test_credential_header(auth_type, location, name, expected):
    assert credential_header(auth_type, location, name) == expected


@pytest.mark.parametrize("headers, auth_header, bad", [
    ({"X-Tenant": "${tenant.id}", "Accept": "application/json"}, "authorization", set()),
    ({"Authorization": "x"}, "authorization", {"Authorization"}),
    ({"authorization": "x"}, "authorization", {"authorization"}),
    ({"X-Token": "x"}, "x-token", {"X-Token"}),
    ({"Host": "x", "Content-Length": "1", "Transfer-Encoding": "chunked", "Connection": "close"},
     None, {"Host", "Content-Length", "Transfer-Encoding", "Connection"}),
    ({"Bad Name": "x", "X(y)": "x", "": "x"}, None, {"Bad Name", "X(y)", ""}),
    ({"X-Ok": "line\r\nInjected: 1"}, None, {"X-Ok"}),
    ({"X-Ok": "nul\x00"}, None, {"X-Ok"}),
    ({"X-Unicode": "Zoë ✓"}, None, set()),
])
def test_header_problems(headers, auth_header, bad):
    assert set(header_problems(headers, auth_header)) == bad


def test_oauth2_needs_endpoints_and_client_id():
    problems = configuration_errors({"authType": "oauth2", "headers": {}})
    assert set(problems) == {"authUri", "tokenUri", "clientId"}
    assert configuration_errors({
        "authType": "oauth2", "authUri": "https://a.example/auth", "tokenUri": "https://a.example/t",
        "clientId": "id", "headers": {}}) == {}


def test_configuration_names_header_problems_under_headers():
    problems = configuration_errors({"authType": "apikey", "apiKeyLocation": "header",
                                     "apiKeyName": "X-Key", "headers": {"x-key": "v"}})
    assert list(problems) == ["headers"]
    assert problems["headers"][0].startswith("x-key:")


def test_api_key_name_must_be_sendable():
    assert "apiKeyName" in configuration_errors(
        {"authType": "apikey", "apiKeyLocation": "header", "apiKeyName": "Content-Length"})
    assert "apiKeyName" in configuration_errors(
        {"authType": "apikey", "apiKeyLocation": "query", "apiKeyName": "a b"})


@pytest.mark.parametrize("superuser, owned, best_share, expected", [
    (True, False, None, Access.OWNER),
    (True, False, 1, Access.OWNER),
    (False, True, None, Access.OWNER),
    (False, True, 1, Access.OWNER),
    (False, False, None, Access.NONE),
    (False, False, 0, Access.NONE),
    (False, False, 1, Access.READ),
    (False, False, 2, Access.WRITE),
    (False, False, 3, Access.SHARE),
    (False, False, 7, Access.SHARE),
])
def test_effective_access(superuser, owned, best_share, expected):
    assert effective_access(superuser, owned, best_share) == expected
