"""The documented deployment, run for real: two gunicorn instances behind nginx under /hub/.

docs/deployment.md tells operators to install deploy/nginx/integration-hub.conf in front of
``integration-hub serve --no-worker`` on every machine, all sharing one PostgreSQL database and
one set of keys, with ``HUB_TRUSTED_PROXIES=1``. Here that is two real gunicorn processes on the
test's PostgreSQL database and a real nginx running the committed upstream and location blocks
(tests/support/deployment.py). Each instance writes its own access log, so the tests show which
instance served what instead of assuming it.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.test_refresh_across_processes import http_session
from tests.support.deployment import (
    METRICS_TOKEN,
    Deployment,
    check_site_syntax,
    check_units,
    hub_behind_nginx,
)
from tests.support.upstream import big_sha256

TIMEOUT = 15
ADMIN_PASSWORD = "the deployed administrator's password"


@pytest.fixture(scope="session", params=["postgresql"])
def backend(request) -> str:
    """Several machines sharing one database is the PostgreSQL deployment: this module runs on
    PostgreSQL only."""
    return request.param


@pytest.fixture(scope="module")
def deployment(backend, migrated_app, tmp_path_factory) -> Iterator[Deployment]:
    settings = migrated_app.config["HUB_SETTINGS"]
    assert settings.database_url.startswith("postgresql"), settings.database_url
    with hub_behind_nginx(settings, tmp_path_factory.mktemp("deployment"), count=2) as running:
        yield running


@pytest.fixture
def web(deployment):
    with http_session() as session:
        yield session


@pytest.fixture
def admin(make_caller):
    """The administrator, with an API token and a password (their browser signs in)."""
    return make_caller("root", superuser=True, display_name="Root Admin",
                       password=ADMIN_PASSWORD)


@pytest.fixture
def admins_browser(deployment, admin):
    """A browser signed in to the deployed hub as the administrator."""
    with http_session() as browser:
        answer = browser.post(f"{deployment.base}/api/login", timeout=TIMEOUT, json={
            "username": admin.username, "password": ADMIN_PASSWORD})
        assert answer.status_code == 200, answer.text
        yield browser


def hrefs(document) -> list[str]:
    """Every ``href`` anywhere in a HAL document (links, embedded resources, curies)."""
    found = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key == "href" and isinstance(value, str):
                found.append(value)
            else:
                found += hrefs(value)
    elif isinstance(document, list):
        for item in document:
            found += hrefs(item)
    return found


def outside_prefix(deployment: Deployment, links: list[str]) -> list[str]:
    return [h for h in links if not (h.startswith("/hub/") or h.startswith(f"{deployment.base}/"))]


def raw_request(deployment: Deployment, method: str, target: str,
                headers: dict[str, str]) -> tuple[int, str, bytes]:
    """Send ``target`` to nginx byte for byte, as curl --path-as-is would (requests and urllib3
    resolve dot segments before sending)."""
    connection = http.client.HTTPConnection(urlsplit(deployment.origin).netloc, timeout=TIMEOUT)
    try:
        connection.request(method, target, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.getheader("Content-Type") or "", answer.read()
    finally:
        connection.close()


def test_the_committed_site_is_valid_nginx(tmp_path):
    """The whole file (HTTP redirect, TLS server, default server), not only the tested blocks."""
    checked = check_site_syntax(tmp_path)
    assert checked.returncode == 0, checked.stderr


def test_the_committed_systemd_units_are_valid(tmp_path):
    checked = check_units(tmp_path)
    assert checked.returncode == 0 and not checked.stderr.strip(), checked.stderr


def test_operations_endpoints_answer_through_nginx_and_on_each_instance(deployment, web):
    """What docs/deployment.md points monitoring at: /healthz and /readyz (no sign-in) through
    nginx and on every instance directly; /metrics only with the metrics token."""
    for url in [deployment.base, *(instance.url for instance in deployment.instances)]:
        alive = web.get(f"{url}/healthz", timeout=TIMEOUT)
        assert alive.status_code == 200, (url, alive.text)
        ready = web.get(f"{url}/readyz", timeout=TIMEOUT)
        assert ready.status_code == 200 and ready.json()["status"] == "ready", (url, ready.text)
        scraped = web.get(f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
                          timeout=TIMEOUT)
        assert scraped.status_code == 200 and "hub_http_requests_total" in scraped.text, url
        assert web.get(f"{url}/metrics", timeout=TIMEOUT).status_code == 401


def test_links_and_the_oauth_redirect_uri_carry_the_public_prefix(deployment, web, admin,
                                                                  admins_browser,
                                                                  oauth_integration):
    base = deployment.base
    root = web.get(f"{base}/api", headers=admin.headers, timeout=TIMEOUT)
    assert root.status_code == 200, root.text
    assert root.headers["Content-Type"].startswith("application/hal+json")
    links = hrefs(root.json())
    assert len(links) > 5 and not outside_prefix(deployment, links), links
    assert root.json()["_links"]["self"]["href"] == "/hub/api"

    integration_id = oauth_integration("Deployed Provider")
    listed = web.get(f"{base}/api/integrations/{integration_id}", headers=admin.headers,
                     timeout=TIMEOUT)
    assert listed.status_code == 200, listed.text
    links = hrefs(listed.json())
    assert links and not outside_prefix(deployment, links), links
    own = listed.json()["_links"]["self"]["href"]
    # a link followed as a HAL client does (against the origin) works through nginx
    assert web.get(f"{deployment.origin}{own}", headers=admin.headers, timeout=TIMEOUT).status_code == 200

    # The flow's start address and the OAuth redirect_uri are the public ones, also when a
    # client sends its own X-Forwarded-* headers: nginx sets every one of them itself.
    forged = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Prefix": "/evil",
              "X-Forwarded-Proto": "https", "X-Forwarded-Port": "8443", "X-Forwarded-Ssl": "on"}
    for extra in ({}, forged):
        started = web.get(f"{base}/api/integrations/{integration_id}/connect",
                          headers={**admin.headers, **extra}, allow_redirects=False, timeout=TIMEOUT)
        assert started.status_code == 302, started.text
        start = started.headers["Location"]
        assert start.startswith(f"{base}/oauth2/start/"), (extra, start)
        opened = admins_browser.get(start, headers=extra, allow_redirects=False, timeout=TIMEOUT)
        assert opened.status_code == 302, opened.text
        query = parse_qs(urlsplit(opened.headers["Location"]).query)
        assert query["redirect_uri"] == [f"{base}/oauth2/callback"], (extra, query["redirect_uri"])


def test_an_oauth_flow_started_on_one_instance_completes_on_the_other(
        deployment, web, admin, admins_browser, oauth_server, oauth_integration):
    base, callback = deployment.base, f"{deployment.base}/oauth2/callback"
    integration_id = oauth_integration("Deployed Provider")
    connect_path = f"/api/integrations/{integration_id}/connect"

    # a program starts with the token; the admin's browser opens the one-time start address,
    # where the flow gets its state and the browser its cookie
    before_start = deployment.mark()
    started = web.get(f"{base}{connect_path}", params={"returnTo": "/hub/"}, headers=admin.headers,
                      allow_redirects=False, timeout=TIMEOUT)
    assert started.status_code == 302, started.text
    # gunicorn logs a request just after answering it: wait for this one's line, or it
    # could be counted below as one that passed since the start
    deployment.served_by(before_start, "GET", connect_path)
    mark = deployment.mark()
    opened = admins_browser.get(started.headers["Location"], allow_redirects=False,
                                timeout=TIMEOUT)
    assert opened.status_code == 302, opened.text
    authorize = opened.headers["Location"]
    assert authorize.startswith(f"{oauth_server.authorize_url}?"), authorize
    assert parse_qs(urlsplit(authorize).query)["redirect_uri"] == [callback]
    (starter,) = deployment.served_by(mark, "GET", "/oauth2/start/")

    # the browser at the authorization server, which sends it back with code and state
    with http_session() as provider_side:
        back = provider_side.get(authorize, allow_redirects=False, timeout=TIMEOUT)
    assert back.status_code == 302, back.text
    returned = back.headers["Location"]
    assert returned.startswith(f"{callback}?"), returned

    # nginx's round robin alternates between the two instances, so the callback should land
    # on the other one if an even number of requests passed since the start (normally none);
    # otherwise one throwaway request evens it out. The logs decide below, not this guess.
    since_start = sum(deployment.mark()) - sum(mark) - 1
    if since_start % 2:
        web.get(f"{base}/api/openapi.json", timeout=TIMEOUT)
    mark = deployment.mark()
    finished = admins_browser.get(returned, allow_redirects=False, timeout=TIMEOUT)
    finisher = deployment.served_by(mark, "GET", "/oauth2/callback")
    assert finished.status_code == 303, (finished.status_code, finished.text[:500], deployment.logs())
    assert finished.headers["Location"] == f"/hub/?status=connected&integration={integration_id}"
    assert len(finisher) == 1 and finisher[0] != starter, (
        f"the flow started on {starter} and its callback was served by {finisher}: "
        "not across instances")

    token_requests = oauth_server.requests("/token")
    assert len(token_requests) == 1
    assert token_requests[0]["form"]["redirect_uri"] == callback  # the same one, exactly
    connection = web.get(f"{base}/api/integrations/{integration_id}/connection",
                         headers=admin.headers, timeout=TIMEOUT)
    assert connection.status_code == 200, connection.text
    assert connection.json()["status"] == "active"
    assert connection.json()["account"]["email"] == "ada@example.com"
    assert not outside_prefix(deployment, hrefs(connection.json()))


@pytest.fixture
def keyed(make_integration, upstream):
    """An API-key integration on the recording upstream."""
    return make_integration("Upstream", type="custom", auth_type="apikey", mode="shared",
                            api_base_uri=f"{upstream.url}/v1", api_key="deploy-key-7731",
                            api_key_name="X-Api-Key")


NGINX_ADDED = ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port",
               "x-forwarded-prefix", "x-real-ip", "forwarded")


def only(items):
    assert len(items) == 1, items
    return items[0]


def test_proxied_calls_reach_the_upstream_with_credentials(deployment, web, admin, upstream, keyed):
    base = deployment.base
    envelope = web.post(f"{base}/api/integrations/{keyed}/request", headers=admin.headers,
                        json={"url": "items/42", "params": {"q": "a b"}}, timeout=TIMEOUT)
    assert envelope.status_code == 200, envelope.text
    received = only(upstream.requests())
    assert (received.method, received.path, received.query) == ("GET", "/v1/items/42", "q=a+b")
    assert received.header("X-Api-Key") == "deploy-key-7731"
    assert received.header("Authorization") is None  # the caller's hub token stays in the hub
    assert not {name.lower() for name, _ in received.headers} & set(NGINX_ADDED), received.headers

    # The raw form keeps the caller's encoding end to end: nginx passes the target unchanged.
    upstream.reset()
    status, _, body = raw_request(
        deployment, "GET",
        f"/hub/api/integrations/{keyed}/request/files/a%20b/group%2Fproject/@me?x=1&y=%2F",
        admin.headers)
    assert status == 200, body[:500]
    received = only(upstream.requests())
    assert (received.path, received.query) == ("/v1/files/a%20b/group%2Fproject/@me", "x=1&y=%2F")
    assert received.header("X-Api-Key") == "deploy-key-7731"

    # Percent-encoded CR LF never becomes a header line: nginx passes it on encoded (the hub
    # itself answers 404 for it in a raw path, its route does not match a decoded LF) ...
    upstream.reset()
    status, _, body = raw_request(deployment, "GET",
                                  f"/hub/api/integrations/{keyed}/request/a%0D%0AX-Injected:%201",
                                  admin.headers)
    assert status < 500, body[:500]
    assert all(r.header("X-Injected") is None and "\n" not in r.raw_target for r in upstream.requests())
    # ... and in an envelope's url it is data, sent on still encoded.
    upstream.reset()
    envelope = web.post(f"{base}/api/integrations/{keyed}/request", headers=admin.headers,
                        json={"url": "a%0D%0AX-Injected:%201"}, timeout=TIMEOUT)
    assert envelope.status_code == 200, envelope.text
    received = only(upstream.requests())
    assert received.path == "/v1/a%0D%0AX-Injected:%201" and received.header("X-Injected") is None


def test_bodies_stream_through_nginx_both_ways(deployment, web, admin, upstream, keyed):
    base = deployment.base
    piece = os.urandom(64 * 1024)
    pieces = 48  # 3 MiB, sent chunked: nginx must pass it on without a Content-Length
    upload = web.put(f"{base}/api/integrations/{keyed}/request/upload",
                     headers={**admin.headers, "Content-Type": "application/octet-stream"},
                     data=(piece for _ in range(pieces)), timeout=TIMEOUT)
    assert upload.status_code == 200, upload.text[:500]
    received = only(upstream.requests())
    assert received.body_size == len(piece) * pieces
    assert received.body_sha256 == hashlib.sha256(piece * pieces).hexdigest()

    size = 8 * 1024 * 1024 + 17
    upstream.respond("/v1/big", {"big": size})
    download = web.get(f"{base}/api/integrations/{keyed}/request/big", headers=admin.headers,
                       stream=True, timeout=TIMEOUT)
    assert download.status_code == 200
    digest, got = hashlib.sha256(), 0
    for chunk in download.iter_content(64 * 1024):
        digest.update(chunk)
        got += len(chunk)
    assert (got, digest.hexdigest()) == (size, big_sha256(size))


def test_a_stated_length_reaches_the_upstream_through_nginx_as_that_length(deployment, web, admin,
                                                                          upstream, keyed):
    """Many APIs answer 411 to a chunked body: an upload with a Content-Length keeps it end to
    end (tests/security/test_proxy_framing.py has the cases against the hub alone)."""
    body = os.urandom(3 * 1024 * 1024 + 5)
    upload = web.put(f"{deployment.base}/api/integrations/{keyed}/request/upload", data=body,
                     headers={**admin.headers, "Content-Type": "application/octet-stream"},
                     timeout=TIMEOUT)
    assert upload.status_code == 200, upload.text[:500]
    received = only(upstream.requests())
    assert received.header_all("Content-Length") == [str(len(body))] and not received.chunked
    assert received.body_sha256 == hashlib.sha256(body).hexdigest()


# Representative cases of tests/api/test_proxy.py's refusal list.
ENVELOPE_TRICKS = [
    "../admin", "%2e%2e/admin", ".%2E/admin", "..%2fadmin", "a/%2e%2e%2f%2e%2e/admin",
    "%252e%252e/admin", "..\\admin", "a%5c..%5cadmin", "//evil.example/x",
    "https://evil.example/x", "https://user@evil.example/", "users\r\nX-Evil: 1", "users\x00",
]
RAW_TRICKS = [
    "../admin", "%2e%2e/admin", ".%2E/admin", "..%2fadmin", "a/..%2F..%2Fadmin",
    "a/%2e%2e%2f%2e%2e/admin", "%252e%252e/admin", "a%5c..%5cadmin", "%5c%5cevil",
    "https://evil.example/x",
]


def test_url_tricks_are_refused_through_nginx_before_anything_is_sent(deployment, web, admin,
                                                                      upstream, keyed):
    wrong = []
    for target in ENVELOPE_TRICKS:
        answer = web.post(f"{deployment.base}/api/integrations/{keyed}/request", headers=admin.headers,
                          json={"url": target}, timeout=TIMEOUT)
        code = answer.json().get("code") if answer.headers.get("Content-Type", "").endswith("json") else None
        if (answer.status_code, code) != (400, "url_outside_base"):
            wrong.append(f"envelope {target!r}: {answer.status_code} {answer.text[:200]}")

    # The raw form, sent as a client sends it. A site that let nginx normalise the URI would
    # resolve or reject some of these itself; the committed one passes the target on exactly
    # as received (minus /hub), so the hub must see each one and refuse it.
    for target in RAW_TRICKS:
        path = f"/api/integrations/{keyed}/request/{target}"
        mark = deployment.mark()
        status, content_type, body = raw_request(deployment, "GET", f"/hub{path}", admin.headers)
        by_hub = "json" in content_type and json.loads(body).get("code") == "url_outside_base"
        if status != 400 or not by_hub:
            wrong.append(f"raw {target!r}: {status} {body[:200]!r}")
        elif not deployment.served_by(mark, "GET", path):
            wrong.append(f"raw {target!r}: no instance logged the target as sent")
    assert not wrong, "\n".join(wrong)
    assert upstream.requests() == [], [r.raw_target for r in upstream.requests()]
