"""The request proxy, judged by what a real upstream server received."""

import gzip
import json

import pytest
from sqlalchemy import select

from integration_hub.db.models import ProxyRequest


def call(client, caller, integration, **body):
    return client.post(f"/api/integrations/{integration}/request", headers=caller.headers,
                       json=body)


def only(items):
    assert len(items) == 1, items
    return items[0]


def test_envelope_call_passes_method_path_query_body_and_credentials(client, member, upstream,
                                                                     keyed):
    integration = keyed(headers={"X-User-Email": "${user.email}", "X-Region": "${user.region:-eu}"})

    answer = call(client, member, integration, url="items/42", method="post",
                  params={"q": "a b", "tag": ["x", "y"]}, data={"name": "thing"},
                  headers={"X-Trace": "t-1", "Authorization": "Bearer caller-override",
                           "X-Api-Key": "caller-key"})

    assert answer.status_code == 200
    received = only(upstream.requests())
    assert received.method == "POST" and received.path == "/v1/items/42"
    assert received.query == "q=a+b&tag=x&tag=y"
    assert json.loads(received.body) == {"name": "thing"}
    assert received.header("Content-Type") == "application/json"
    assert received.header("X-Api-Key") == "integration-key-123"  # the caller cannot override
    assert received.header("Authorization") is None
    assert received.header("X-Trace") == "t-1"
    assert received.header("X-User-Email") == "mia@example.com"
    assert received.header("X-Region") == "eu"
    assert answer.get_json()["method"] == "POST"  # the upstream's own answer, unchanged


def test_envelope_option_wraps_the_answer(client, member, upstream, keyed):
    integration = keyed()
    upstream.respond("/v1/missing", {"status": 404, "json": {"error": "nope"},
                                     "headers": [("X-Upstream", "1")]})
    answer = call(client, member, integration, url="missing", envelope=True)

    assert answer.status_code == 200
    envelope = answer.get_json()
    assert envelope["status"] == 404 and envelope["data"] == {"error": "nope"}
    assert envelope["headers"]["X-Upstream"] == "1" and envelope["error"]


def test_raw_call_streams_any_method_with_allowed_headers(client, member, upstream, keyed):
    integration = keyed(data={"forwardHeaders": ["X-Custom-Allowed"]})
    answer = client.put(
        f"/api/integrations/{integration}/request/files/a%20b/@me?x=1&y=%2F",
        headers={**member.headers, "Content-Type": "text/plain", "If-Match": '"e1"',
                 "Accept": "text/plain", "Cookie": "session=secret-cookie", "X-Custom-Allowed": "ok",
                 "X-Not-Allowed": "no", "X-Forwarded-For": "1.2.3.4"},
        data=b"raw body")

    assert answer.status_code == 200
    received = only(upstream.requests())
    assert received.method == "PUT" and received.path == "/v1/files/a%20b/@me"
    assert received.query == "x=1&y=%2F" and received.body == b"raw body"
    names = {name.lower() for name, _ in received.headers}
    assert {"if-match", "accept", "content-type", "x-custom-allowed"} <= names
    assert not {"cookie", "x-not-allowed", "x-forwarded-for"} & names
    assert received.header("Authorization") is None and received.header("X-Api-Key")


@pytest.mark.parametrize("target", [
    "../admin", "%2e%2e/admin", ".%2E/admin", "..%2fadmin", "a/%2e%2e%2f%2e%2e/admin",
    "%252e%252e/admin", "..\\admin", "a%5c..%5cadmin", "//evil.example/x",
    "https://evil.example/x", "https://user@evil.example/", "http://127.0.0.1:9/x",
])
def test_url_tricks_are_refused_before_anything_is_sent(client, member, upstream, keyed, target):
    integration = keyed()
    answer = call(client, member, integration, url=target)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.get_json()["code"] == "url_outside_base"
    assert upstream.requests() == []


def test_raw_path_tricks_are_refused(client, member, upstream, keyed):
    integration = keyed()
    for path in ("%2e%2e/admin", "a/..%2F..%2Fadmin", "%5c%5cevil"):
        answer = client.get(f"/api/integrations/{integration}/request/{path}",
                            headers=member.headers)
        assert answer.status_code == 400, path
    assert upstream.requests() == []


def test_allowed_hosts_is_the_only_way_elsewhere(client, member, upstream, keyed):
    integration = keyed(data={"allowedHosts": ["127.0.0.1:" + upstream.url.rsplit(":", 1)[1]]},
                        api_base_uri="https://api.example.invalid/v1")
    answer = call(client, member, integration, url=f"{upstream.url}/elsewhere")
    assert answer.status_code == 200
    assert only(upstream.requests()).path == "/elsewhere"


def test_crlf_in_a_users_field_never_reaches_the_upstream(client, session, upstream, keyed,
                                                          make_caller):
    caller = make_caller("crlf", email="evil@example.com\r\nX-Injected: 1")
    integration = keyed(headers={"X-User-Email": "${user.email}"}, shares={"crlf": 1})
    answer = call(client, caller, integration, url="x")
    assert answer.status_code == 422 and answer.get_json()["code"] == "header_value_invalid"
    assert upstream.requests() == []


def test_template_syntax_inside_a_user_field_is_sent_literally(client, upstream, keyed,
                                                               make_caller):
    caller = make_caller("lit", display_name="${tenant.secret}")
    integration = keyed(headers={"X-Name": "${user.displayName}"}, shares={"lit": 1})
    assert call(client, caller, integration, url="x").status_code == 200
    assert only(upstream.requests()).header("X-Name") == "${tenant.secret}"


def test_undefined_template_variable_is_422(client, member, upstream, keyed):
    integration = keyed(headers={"X-Team": "${user.team}"})
    answer = call(client, member, integration, url="x")
    assert answer.status_code == 422
    assert answer.get_json()["code"] == "template_variable_undefined"
    assert "user.team" in answer.get_json()["detail"]
    assert upstream.requests() == []


def test_non_ascii_header_values_are_sent_as_utf8(client, upstream, keyed, make_caller):
    caller = make_caller("zoe", display_name="Zoë ✓")
    integration = keyed(headers={"X-Name": "${user.displayName}"}, shares={"zoe": 1})
    assert call(client, caller, integration, url="x").status_code == 200
    raw = only(upstream.requests()).header("X-Name")
    assert raw.encode("latin-1").decode("utf-8") == "Zoë ✓"


def test_per_user_and_shared_credentials(client, member, make_caller, upstream, keyed):
    other = make_caller("otto")
    per_user = keyed(shares={"mia": 1, "otto": 1})
    client.post(f"/api/integrations/{per_user}/connect", headers=member.headers,
                json={"apiKey": "mias-own-key-1"})
    call(client, member, per_user, url="a")
    call(client, other, per_user, url="a")
    keys = [r.header("X-Api-Key") for r in upstream.requests()]
    assert keys == ["mias-own-key-1", "integration-key-123"]

    upstream.reset()
    shared = keyed(mode="shared", api_key=None, shares={"mia": 2, "otto": 1})
    assert call(client, other, shared, url="a").status_code == 409
    client.post(f"/api/integrations/{shared}/connect", headers=member.headers,
                json={"apiKey": "team-shared-key-1"})
    call(client, other, shared, url="a")
    assert only(upstream.requests()).header("X-Api-Key") == "team-shared-key-1"


def test_other_tenants_and_strangers_get_404(client, make_caller, upstream, keyed):
    integration = keyed()
    stranger = make_caller("stranger")
    foreign = make_caller("fred", tenant="other", superuser=True)
    for caller in (stranger, foreign):
        assert call(client, caller, integration, url="x").status_code == 404
        assert client.get(f"/api/integrations/{integration}/request/x",
                          headers=caller.headers).status_code == 404
    assert upstream.requests() == []


def test_oauth_credentials_and_refresh_on_401(client, member, upstream, oauth_server,
                                              oauth_integration):
    integration = oauth_integration(shares={"mia": 1}, api_base_uri=f"{upstream.url}/api")
    client.post(f"/api/integrations/{integration}/connect", headers=member.headers,
                json={"accessToken": "stale-access", "refreshToken": "rt-1", "expiresIn": 3600})
    upstream.respond("/api/me", {"status": 401}, {"status": 200, "json": {"ok": True}})

    answer = call(client, member, integration, url="me")

    assert answer.status_code == 200 and answer.get_json() == {"ok": True}
    first, second = upstream.requests()
    assert first.header("Authorization") == "Bearer stale-access"
    assert second.header("Authorization").startswith("Bearer ") and \
        second.header("Authorization") != "Bearer stale-access"
    assert len(oauth_server.requests("/token")) == 1


def test_not_connected_oauth_is_409_with_connect_link(client, member, upstream, oauth_integration):
    integration = oauth_integration(shares={"mia": 1}, api_base_uri=f"{upstream.url}/api")
    answer = call(client, member, integration, url="me")
    assert answer.status_code == 409 and answer.get_json()["code"] == "integration_not_connected"
    assert answer.get_json()["_links"]["inf:connect"]["href"].endswith("/connect")


def test_response_headers_are_filtered_and_encoding_kept(client, member, upstream, keyed):
    integration = keyed()
    upstream.respond("/v1/zipped", {"body": "hello " * 100, "gzip": True, "headers": [
        ("Set-Cookie", "a=b"), ("Strict-Transport-Security", "max-age=1"),
        ("Access-Control-Allow-Origin", "*"), ("Connection", "X-Secret-Hop"),
        ("X-Secret-Hop", "1"), ("Keep-Alive", "timeout=5"), ("X-Kept", "yes")]})

    answer = client.get(f"/api/integrations/{integration}/request/zipped", headers=member.headers)

    names = {name.lower() for name in answer.headers.keys()}
    assert not {"set-cookie", "strict-transport-security", "access-control-allow-origin",
                "x-secret-hop", "keep-alive"} & names
    assert answer.headers["X-Kept"] == "yes"
    assert answer.headers["Content-Encoding"] == "gzip"
    assert int(answer.headers["Content-Length"]) == len(answer.data)
    assert gzip.decompress(answer.data) == ("hello " * 100).encode()


def test_upstream_errors_pass_through(client, member, upstream, keyed):
    integration = keyed()
    upstream.respond("/v1/boom", {"status": 503, "body": "down for maintenance",
                                  "headers": [("Retry-After", "120")]})
    answer = client.get(f"/api/integrations/{integration}/request/boom", headers=member.headers)
    assert answer.status_code == 503 and answer.data == b"down for maintenance"
    assert answer.headers["Retry-After"] == "120"


def test_retries_for_idempotent_calls(client, member, upstream, keyed):
    integration = keyed()
    upstream.respond("/v1/flaky", {"status": 503, "headers": [("Retry-After", "0")]},
                     {"status": 200, "json": {"ok": 1}})
    answer = call(client, member, integration, url="flaky", retries=2)
    assert answer.status_code == 200 and len(upstream.requests()) == 2

    upstream.reset()
    upstream.respond("/v1/flaky", {"status": 503}, {"status": 200})
    posted = call(client, member, integration, url="flaky", method="POST", data="x", retries=2)
    assert posted.status_code == 503 and len(upstream.requests()) == 1  # not idempotent


def test_retry_after_beyond_the_cap_answers_at_once(client, member, upstream, keyed):
    integration = keyed()
    upstream.respond("/v1/slow-down", {"status": 429, "headers": [("Retry-After", "3600")]},
                     {"status": 200})
    answer = call(client, member, integration, url="slow-down", retries=3)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "3600"
    assert len(upstream.requests()) == 1


def test_timeouts_and_unreachable(client, member, upstream, keyed, make_integration):
    integration = keyed(data={"timeout": 0.3})
    upstream.respond("/v1/slow", {"delay": 1.5})
    slow = call(client, member, integration, url="slow")
    assert slow.status_code == 504 and slow.get_json()["code"] == "upstream_timeout"

    dead = keyed(api_base_uri="http://127.0.0.1:9/v1")
    refused = call(client, member, dead, url="x")
    assert refused.status_code == 502 and refused.get_json()["code"] == "upstream_unreachable"


def test_redirects_follow_only_within_the_base(client, member, upstream, keyed):
    integration = keyed()
    upstream.respond("/v1/old", {"redirect": f"{upstream.url}/v1/new"})
    moved = call(client, member, integration, url="old")
    assert moved.status_code == 200
    assert [r.path for r in upstream.requests()] == ["/v1/old", "/v1/new"]
    assert upstream.requests()[1].header("X-Api-Key") == "integration-key-123"

    upstream.reset()
    upstream.respond("/v1/escape", {"redirect": "https://evil.example/steal"})
    escaped = call(client, member, integration, url="escape")
    assert escaped.status_code == 400 and escaped.get_json()["code"] == "url_outside_base"
    upstream.reset()
    upstream.respond("/v1/up", {"redirect": f"{upstream.url}/admin"})
    assert call(client, member, integration, url="up").status_code == 400


def test_oversize_body_is_413_before_anything_is_sent(migrated_app, tmp_path, member, upstream,
                                                      keyed, session):
    from integration_hub import create_app
    from tests.conftest import make_settings

    integration = keyed()
    settings = make_settings(migrated_app.config["HUB_SETTINGS"].database_url, tmp_path,
                             HUB_PROXY_MAX_BODY="1024")
    small = create_app(settings).test_client()
    for body in ({"data": b"x" * 2048}, {"data": "y" * 2048}):
        raw = small.post(f"/api/integrations/{integration}/request/upload",
                         headers={**member.headers, "Content-Type": "application/octet-stream"},
                         data=body["data"])
        assert raw.status_code == 413 and raw.get_json()["code"] == "request_too_large"
    envelope = call(small, member, integration, url="upload", method="POST", data="z" * 2048)
    assert envelope.status_code == 413
    assert upstream.requests() == []
    assert _logged_errors(small, session, integration) == []  # refused before it was a call


def test_private_upstreams_are_refused_when_configured(migrated_app, tmp_path, upstream, keyed,
                                                       member, session):
    from integration_hub import create_app
    from tests.conftest import make_settings

    integration = keyed()
    settings = make_settings(migrated_app.config["HUB_SETTINGS"].database_url, tmp_path,
                             HUB_PROXY_DENY_PRIVATE="true")
    guarded = create_app(settings).test_client()
    answer = call(guarded, member, integration, url="x")
    assert answer.status_code == 403 and answer.get_json()["code"] == "upstream_address_denied"
    assert upstream.requests() == []
    assert _logged_errors(guarded, session, integration) == ["upstream_address_denied"]


def _logged_errors(client, session, integration) -> list[str]:
    """The request log's error codes for ``integration``, once ``client``'s app wrote them."""
    client.application.extensions["integration_hub.request_log"].flush()
    session.rollback()
    return [row.error for row in session.scalars(
        select(ProxyRequest).where(ProxyRequest.integration_id == integration))]


def test_request_log_records_calls_without_secrets(client, session, admin, member, upstream, keyed):
    integration = keyed()
    call(client, member, integration, url="items", params={"token": "query-secret-value"})
    client.get(f"/api/integrations/{integration}/request/items?password=another-secret-value",
               headers=member.headers)

    assert client.get(f"/api/integrations/{integration}/requests",
                      headers=member.headers).status_code == 403
    page = client.get(f"/api/integrations/{integration}/requests", headers=admin.headers)
    rows = page.get_json()["_embedded"]["inf:proxy-request"]
    assert len(rows) == 2
    assert {row["path"] for row in rows} == {"/v1/items?token=", "/v1/items?password="}
    assert all(row["status"] == 200 and row["username"] == "mia" for row in rows)
    text = page.get_data(as_text=True)
    assert "query-secret-value" not in text and "another-secret-value" not in text
    assert session.scalars(select(ProxyRequest)).all()


def test_each_logged_call_has_its_own_address(client, admin, member, upstream, keyed):
    integration = keyed()
    other = keyed()
    for target in (integration, other):
        call(client, member, target, url="items").close()  # logged once its answer is done
    page = client.get(f"/api/integrations/{integration}/requests", headers=admin.headers)
    listed = only(page.get_json()["_embedded"]["inf:proxy-request"])
    where = listed["_links"]["self"]["href"]
    assert "#" not in where and where != page.get_json()["_links"]["self"]["href"]

    answer = client.get(where, headers=admin.headers)
    assert answer.status_code == 200 and answer.mimetype == "application/hal+json"
    assert answer.get_json() == listed
    # the list's access rule: its owner and administrators, not those it is shared with
    refused = client.get(where, headers=member.headers)
    assert (refused.status_code, refused.get_json()["code"]) == (403, "forbidden")
    # an entry of another integration is not one of this integration's
    theirs = only(client.get(f"/api/integrations/{other}/requests", headers=admin.headers)
                  .get_json()["_embedded"]["inf:proxy-request"])
    elsewhere = client.get(f"/api/integrations/{integration}/requests/{theirs['id']}",
                           headers=admin.headers)
    assert (elsewhere.status_code, elsewhere.get_json()["code"]) == (
        404, "proxy_request_not_found")


def test_connection_fields_fill_the_base_url(client, member, upstream, oauth_server,
                                             oauth_integration):
    integration = oauth_integration(shares={"mia": 1},
                                    api_base_uri="${connection.instance_url}/services/data")
    oauth_server.queue_token_responses({"body": {"instance_url": upstream.url}})
    connected = client.post(f"/api/integrations/{integration}/connect", headers=member.headers,
                            json={"refreshToken": "given-refresh-token"})
    assert connected.status_code == 201

    assert call(client, member, integration, url="sobjects").status_code == 200
    assert only(upstream.requests()).path == "/services/data/sobjects"


def test_head_and_retry_after_connection_errors(client, member, upstream, keyed):
    integration = keyed()
    head = client.head(f"/api/integrations/{integration}/request/items", headers=member.headers)
    assert head.status_code == 200 and head.data == b""
    assert only(upstream.requests()).method == "HEAD"

    upstream.reset()
    upstream.respond("/v1/drop", {"close": True}, {"status": 200, "json": {"ok": True}})
    answer = call(client, member, integration, url="drop", retries=1)
    assert answer.status_code == 200 and len(upstream.requests()) == 2


def test_rate_limits_per_user_and_per_integration(client, member, make_caller, upstream, keyed):
    other = make_caller("otto")
    integration = keyed(data={"rateLimit": {"perUser": 2, "perIntegration": 3,
                                            "windowSeconds": 3600}},
                        shares={"mia": 1, "otto": 1})
    assert [call(client, member, integration, url="x").status_code for _ in range(3)] == \
        [200, 200, 429]
    limited = call(client, member, integration, url="x")
    assert limited.get_json()["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 3600
    assert call(client, other, integration, url="x").status_code == 200  # 3rd call overall
    assert call(client, other, integration, url="x").status_code == 429  # integration limit
    assert len(upstream.requests()) == 3


def test_a_streamed_call_is_logged_once_the_caller_holds_every_byte(client, admin, member,
                                                                     upstream, keyed):
    """With a declared length, the caller has the whole answer before the server resumes the
    stream after its last bytes; reading the request log then must show the call (the list
    writes this process's waiting rows first)."""
    integration = keyed()
    upstream.respond("/v1/sized", {"big": 600 * 1024})  # several chunks, Content-Length set
    answer = client.get(f"/api/integrations/{integration}/request/sized",
                        headers=member.headers, buffered=False)
    length = int(answer.headers["Content-Length"])
    chunks, received = iter(answer.response), 0
    while received < length:  # every byte, without resuming the stream once more
        received += len(next(chunks))
    try:
        logged = client.get(f"/api/integrations/{integration}/requests", headers=admin.headers)
        calls = [(c["path"], c["status"], c["bytesReceived"])
                 for c in logged.get_json()["_embedded"]["inf:proxy-request"]]
        assert calls == [("/v1/sized", 200, length)]
    finally:
        answer.close()
