"""A generic HAL client walks the hub over real HTTP, starting from ``/api`` only (issue #12).

The client is halchemy (PyPI), not code of ours: it follows ``_links`` by relation name and
expands RFC 6570 templates itself. Every URL it requests is checked against the links of the
answers it had before: the start ``/api``, an href seen earlier, or an expansion of a templated
href seen earlier. The one other thing allowed is a query parameter that the OpenAPI document
(reached through the root's ``describedby`` link) documents for that very operation, added with
the client's own parameter support. Any other URL means a client would have had to build it by
hand, and the test fails.

The walk: an administrator creates a team with a member and an API-key integration whose
upstream is the recording server, shares it with the team; the member connects with their own
key and calls the upstream through the hub; the administrator reads the request log and deletes
the integration (forced, since a connection exists), after which its self link answers 404.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

import requests
import requests.adapters
from requests.structures import CaseInsensitiveDict

from tests.secret_watch import WATCH

# halchemy's requests_helper replaces ``requests.Session`` for the whole process when it is
# imported (``requests.Session = RequestsWithDefaults``). The hub under test runs in this
# process and other tests create sessions too: put the real class back. halchemy itself keeps
# using its own subclass.
_REAL_SESSION = requests.Session
import halchemy  # noqa: E402

requests.Session = _REAL_SESSION

TIMEOUT = 30  # seconds; halchemy sets no timeout of its own
ACCEPT = "application/hal+json, application/json;q=0.9, */*;q=0.8"


# -- what a client may request ------------------------------------------------------------------
def _template_regex(template: str) -> re.Pattern:
    """A pattern matching every RFC 6570 expansion of ``template`` (levels 1-4, loosely)."""
    pattern, position = "", 0
    for expression in re.finditer(r"\{([+#./;?&]?)[^}]*\}", template):
        pattern += re.escape(template[position:expression.start()])
        operator = expression.group(1)
        pattern += {
            "": r"[^/?#]*", "+": r"[^?#]*", "#": r"(?:#.*)?", ".": r"(?:\.[^/?#]*)*",
            "/": r"(?:/[^/?#]*)*", ";": r"(?:;[^/?#]*)*", "?": r"(?:\?[^#]*)?", "&": r"(?:&[^#]*)?",
        }[operator]
        position = expression.end()
    return re.compile(pattern + re.escape(template[position:]))


def _without_fragment(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(fragment=""))


class LinkLedger:
    """Every link the client has been given so far, and every URL it requested.

    ``on_response`` is a requests response hook on the client's HTTP session: it first checks
    the URL of the request against what earlier answers offered, then learns the links of this
    answer (``_links`` anywhere in the body, embedded resources and problem bodies included).
    """

    def __init__(self, start: str) -> None:
        self.hrefs: set[str] = {start}
        self.templates: dict[str, re.Pattern] = {}
        # (method, path pattern) -> query parameter names the OpenAPI document declares
        self.documented_query: list[tuple[str, re.Pattern, frozenset[str]]] = []
        self.requested: list[tuple[str, str]] = []
        self.violations: list[str] = []

    # what may be requested
    def _offered(self, url: str) -> bool:
        return url in self.hrefs or any(p.fullmatch(url) for p in self.templates.values())

    def query_parameters(self, method: str, url: str) -> set[str]:
        """The query parameters the OpenAPI document declares for ``method`` on ``url``."""
        path = urlsplit(url).path
        return {name for documented_method, pattern, names in self.documented_query
                if documented_method == method and pattern.fullmatch(path) for name in names}

    def _documented(self, method: str, url: str) -> bool:
        """``url`` is an offered URL plus query parameters documented for ``method`` on it."""
        parts = urlsplit(url)
        if not parts.query:
            return False
        names = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
        bare = urlunsplit(parts._replace(query=""))
        return self._offered(bare) and names <= self.query_parameters(method, url)

    def check(self, method: str, url: str) -> None:
        url = _without_fragment(url)
        self.requested.append((method, url))
        if not (self._offered(url) or self._documented(method, url)):
            self.violations.append(f"{method} {url}: no earlier answer linked to it")

    # what answers offer
    def learn(self, base: str, document) -> None:
        if isinstance(document, list):
            for item in document:
                self.learn(base, item)
            return
        if not isinstance(document, dict):
            return
        links = document.get("_links")
        if isinstance(links, dict):
            for value in links.values():
                for link in value if isinstance(value, list) else [value]:
                    if isinstance(link, dict) and isinstance(link.get("href"), str):
                        self._add(base, link)
        for key, value in document.items():
            if key != "_links":
                self.learn(base, value)

    def _add(self, base: str, link: dict) -> None:
        if link.get("templated"):
            # Resolve the literal part only: the template's braces must survive urljoin.
            template = urljoin(base, link["href"])
            self.templates.setdefault(template, _template_regex(template))
        else:
            self.hrefs.add(_without_fragment(urljoin(base, link["href"])))

    def learn_openapi(self, base: str, spec: dict) -> None:
        """Query parameters per operation, from the document ``describedby`` points at."""
        server = urljoin(base, (spec.get("servers") or [{"url": "/"}])[0]["url"])
        prefix = urlsplit(server).path.rstrip("/")
        for path, operations in spec.get("paths", {}).items():
            pattern = _template_regex(prefix + path)
            shared = operations.get("parameters", [])
            for method, operation in operations.items():
                if method == "parameters" or not isinstance(operation, dict):
                    continue
                names = frozenset(p["name"] for p in [*shared, *operation.get("parameters", [])]
                                  if p.get("in") == "query")
                self.documented_query.append((method.upper(), pattern, names))

    def on_response(self, response: requests.Response, *args, **kwargs) -> None:
        self.check(response.request.method, response.request.url)
        if "json" in response.headers.get("Content-Type", ""):
            try:
                self.learn(response.url, response.json())
            except ValueError:
                pass


class _BoundedAdapter(requests.adapters.HTTPAdapter):
    def send(self, request, **kwargs):
        kwargs["timeout"] = kwargs.get("timeout") or TIMEOUT
        return super().send(request, **kwargs)


def hal_client(base_url: str, bearer_headers: dict[str, str], ledger: LinkLedger) -> halchemy.Api:
    """A halchemy client sending the caller's bearer token, watched by ``ledger``."""
    api = halchemy.Api(base_url)
    # Settings a stray ~/.halchemy could change, stated here; halchemy's default headers also
    # carry "Authorization: Basic root:password", replaced by the caller's bearer token.
    api.error_handling.raise_for_status_codes = None
    api.error_handling.raise_for_network_error = True
    api.parameters_list_style = "repeat_key"
    api.headers = CaseInsensitiveDict({"Accept": ACCEPT, "Content-Type": "application/json",
                                       **bearer_headers})
    # halchemy offers no public handle on its requests session (``_api``); it is a plain
    # requests.Session subclass, so the ledger watches it with a standard response hook.
    session = api._api
    session.trust_env = False
    session.mount("http://", _BoundedAdapter())
    session.hooks["response"].append(ledger.on_response)
    return api


# -- reading answers ----------------------------------------------------------------------------
def status(resource) -> int:
    return resource._halchemy.response.status_code


def body(resource):
    """The parsed answer: the resource itself for HAL, the JSON body otherwise (problems...)."""
    return resource._halchemy.response.body


def expect(resource, wanted: int, ledger: LinkLedger):
    assert not ledger.violations, "URLs built by hand:\n" + "\n".join(ledger.violations)
    assert status(resource) == wanted, (resource._halchemy.request.method,
                                        resource._halchemy.request.url, status(resource),
                                        body(resource))
    return resource


def fresh(resource: halchemy.HalResource) -> halchemy.HalResource:
    """The same document without its HTTP metadata, so halchemy sends no ``If-Match`` taken
    from it (halchemy copies the ETag of the resource a link came from onto PUT/PATCH/DELETE
    of that link, even when the link points at a different resource)."""
    return halchemy.HalResource(dict(resource))


def pages(api: halchemy.Api, collection, ledger: LinkLedger, rel: str) -> Iterator:
    """Every embedded item of a paged collection, following its ``next`` links."""
    while True:
        yield from collection.embedded_many(rel) if collection.has_embedded(rel) else []
        if not collection.has_rel("next"):
            return
        collection = expect(api.follow(collection).to("next").get(), 200, ledger)


# -- the walk -----------------------------------------------------------------------------------
def test_generic_hal_client_walks_from_the_root(live_hub, upstream, admin, make_caller):
    member = make_caller("mia", display_name="Mia Member", email="mia@example.com")
    member_key = f"mia-own-key-{uuid.uuid4().hex}"
    WATCH.remember([member_key])  # the hub's log lines must never carry it
    slug = f"walkers-{uuid.uuid4().hex[:8]}"
    name = f"Walked API {uuid.uuid4().hex[:6]}"

    admin_ledger = LinkLedger(f"{live_hub}/api")
    as_admin = hal_client(live_hub, admin.headers, admin_ledger)

    # 1. the root, then inf:teams: a team with the member in it
    root = expect(as_admin.using_endpoint("/api", is_home=True).get(), 200, admin_ledger)
    assert {"curies", "inf:teams", "inf:integrations", "describedby"} <= set(root.links)
    teams = expect(as_admin.follow(root).to("inf:teams").get(), 200, admin_ledger)
    team = expect(as_admin.follow(teams).to("self").post(
        {"id": f"team:{slug}", "name": "Walkers", "members": [{"username": member.username}]}),
        201, admin_ledger)
    assert team["id"] == f"team:{slug}"
    assert [m["username"] for m in team["members"]] == [member.username]

    # 2. inf:integrations: an API-key integration in front of the recording upstream
    integrations = expect(as_admin.follow(root).to("inf:integrations").get(), 200, admin_ledger)
    integration = expect(as_admin.follow(integrations).to("self").post({
        # per-user: each user connects their own key (the custom type defaults to shared)
        "name": name, "type": "custom", "authType": "apiKey", "mode": "per-user",
        "apiBaseUri": upstream.url + "/v1",
        "headers": {"X-User-Email": "${user.email}"}}), 201, admin_ledger)
    assert (integration["authType"], integration["mode"]) == ("apikey", "per-user")
    assert integration["ownerId"] == admin.username

    # 3. the templated inf:integration-share link, expanded for the team: read access
    assert integration["_links"]["inf:integration-share"].get("templated") is True
    share = expect(as_admin.follow(fresh(integration)).to("inf:integration-share")
                   .with_template_values({"principalId": team["id"]})
                   .put({"accessLevel": 1}), 201, admin_ledger)
    assert (share["principalId"], share["accessLevel"]) == (team["id"], 1)

    # 4. the member, from the root with their own token: find it, connect with their own key
    member_ledger = LinkLedger(f"{live_hub}/api")
    as_member = hal_client(live_hub, member.headers, member_ledger)
    member_root = expect(as_member.using_endpoint("/api", is_home=True).get(), 200, member_ledger)
    listed = expect(as_member.follow(member_root).to("inf:integrations").get(), 200, member_ledger)
    theirs = next((item for item in pages(as_member, listed, member_ledger, "inf:integration")
                   if item["name"] == name), None)
    assert theirs is not None, "the member does not find the integration shared with their team"
    connection = expect(as_member.follow(theirs).to("inf:connect").post({"apiKey": member_key}),
                        201, member_ledger)
    assert connection["status"] == "active"

    # 5. inf:request: an envelope-body call; the answer is the upstream's echo of what it got
    upstream.reset()
    called = expect(as_member.follow(theirs).to("inf:request").post(
        {"url": "items", "method": "GET"}), 200, member_ledger)
    assert body(called)["path"] == "/v1/items"  # the upstream's echo, passed through as it is
    [received] = upstream.requests()
    assert (received.method, received.path) == ("GET", "/v1/items")
    assert received.header("X-API-Key") == member_key
    assert received.header("X-User-Email") == "mia@example.com"
    assert received.header("Authorization") is None  # the member's hub token stays in the hub

    # 6. the owner reads the request log: the call is there at the first read (the endpoint
    # writes its process's waiting rows before it lists them).
    log = expect(as_admin.follow(integration).to("inf:requests").get(), 200, admin_ledger)
    calls = [(c["username"], c["method"], c["path"], c["status"])
             for c in log.embedded_many("inf:proxy-request")]
    assert calls == [(member.username, "GET", "/v1/items", 200)]

    # 7. delete through self: refused while the member's connection exists ...
    current = expect(as_admin.follow(integration).to("self").get(), 200, admin_ledger)
    refused = expect(as_admin.follow(current).to("self").delete(), 409, admin_ledger)
    assert body(refused)["code"] == "integration_in_use"
    assert body(refused)["counts"]["connections"] == 1
    # ... so read, from the OpenAPI document the root links as describedby, which query
    # parameters DELETE on an integration takes: ``force`` is one of them.
    spec = expect(as_admin.follow(root).to("describedby").get(), 200, admin_ledger)
    admin_ledger.learn_openapi(live_hub, body(spec))
    self_url = urljoin(live_hub, current["_links"]["self"]["href"])
    assert "force" in admin_ledger.query_parameters("DELETE", self_url)
    # The one query parameter added to a link in this walk: documented for DELETE
    # /api/integrations/{integration_id} and added through halchemy's with_parameters, never
    # by concatenating strings.
    deleted = expect(as_admin.follow(current).to("self").with_parameters({"force": True}).delete(),
                     204, admin_ledger)
    assert body(deleted) == ""

    # 8. its self link now answers 404
    gone = expect(as_admin.follow(current).to("self").get(), 404, admin_ledger)
    assert body(gone)["code"] == "integration_not_found"

    # every request went through the ledgers, and each one was a link (or the documented
    # parameter on one)
    assert [method for method, _ in admin_ledger.requested] == [
        "GET", "GET", "POST", "GET", "POST", "PUT", "GET",
        "GET", "DELETE", "GET", "DELETE", "GET"]
    assert [method for method, _ in member_ledger.requested] == ["GET", "GET", "POST", "POST"]
    forced_method, forced_url = admin_ledger.requested[-2]
    assert forced_method == "DELETE" and urlsplit(forced_url).query == "force=true"
    assert not admin_ledger.violations and not member_ledger.violations
