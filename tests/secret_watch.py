"""Watch every test request for secrets sent to the hub, and every answer and log
line for those secrets coming back out; also check the links of every answer.

Any secret value a test sends in a secret field (``clientSecret``, ``apiKey``,
``credentials``, ``password``...) is remembered for the whole run; every answer
body, answer header and log record is checked against all remembered secrets.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import uritemplate
from flask.testing import FlaskClient
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, RequestRedirect

from integration_hub.hal import documents as hal
from integration_hub.hal.relations import RELATIONS

SECRET_FIELDS = frozenset({"clientSecret", "apiKey", "credentials", "password", "token", "secret",
                           "accessToken", "refreshToken", "code", "codeVerifier"})
MIN_LENGTH = 8  # shorter values ("k1") would match by accident


class SecretWatch(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.secrets: set[str] = set()
        self.leaks: list[str] = []

    def remember(self, values: Iterable[Any]) -> None:
        for value in values:
            if isinstance(value, dict):
                self.remember(value.values())
            elif isinstance(value, str) and len(value) >= MIN_LENGTH:
                self.secrets.add(value)

    def remember_request(self, body: Any) -> None:
        if isinstance(body, dict):
            self.remember(v for k, v in body.items() if k in SECRET_FIELDS)

    def check(self, where: str, text: str) -> None:
        for secret in self.secrets:
            if secret in text:
                self.leaks.append(f"{where} contains a secret ({secret[:3]}...)")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.check(f"log record from {record.name}", self.format(record))
        except Exception:  # never break the code under test
            self.handleError(record)

    def take_leaks(self) -> list[str]:
        leaks, self.leaks = self.leaks, []
        return leaks


WATCH = SecretWatch()


# Relations whose target is an action: the route takes POST (or PUT/DELETE) but no GET.
ACTION_RELS = frozenset({
    "inf:request", "inf:store", "inf:import", "inf:test", "inf:query",
    "inf:directories-preview", "inf:provision", "inf:login", "inf:logout", "inf:webhook-ping",
    "inf:refresh", "inf:team-member", "inf:sessions", "inf:sync-confirm"})

# RFC 6570 expressions: {var}, {+var}, {?a,b}, {/path*}, {var:3} ...
_TEMPLATE_EXPRESSION = re.compile(r"\{([+#./;?&]?)([A-Za-z0-9_%.]+(?::[1-9][0-9]{0,3}|\*)?"
                                  r"(?:,[A-Za-z0-9_%.]+(?::[1-9][0-9]{0,3}|\*)?)*)\}")


def is_valid_uri_template(href: str) -> bool:
    """Every brace in ``href`` belongs to a well-formed RFC 6570 expression."""
    stripped = _TEMPLATE_EXPRESSION.sub("", href)
    return "{" not in stripped and "}" not in stripped


def link_problems(document: Any, known_rels: set[str],
                  resolve: Callable[[str, str], str | None] | None = None,
                  embed: Callable[[str, str], str | None] | None = None) -> list[str]:
    """HAL hygiene of one answer: every ``inf:`` relation is documented, every link says
    ``templated`` exactly when its href is a URI template (of valid RFC 6570 syntax), every
    embedded item has a self href; with ``resolve``, every href (templates expanded) reaches
    a route of the hub that answers the link's purpose; with ``embed``, every embedded item
    is under the rel its kind has everywhere."""
    found: list[str] = []
    if isinstance(document, list):
        for item in document:
            found.extend(link_problems(item, known_rels, resolve, embed))
        return found
    if not isinstance(document, dict):
        return found
    for rel, value in (document.get("_links") or {}).items():
        if rel.startswith("inf:") and rel[4:] not in known_rels:
            found.append(f"undocumented relation {rel}")
        for item in value if isinstance(value, list) else [value]:
            href = item["href"]
            if item.get("templated", False) != hal.is_uri_template(href):
                found.append(f"{rel}: templated flag does not match {href}")
            elif item.get("templated") and not is_valid_uri_template(href):
                found.append(f"{rel}: not an RFC 6570 template: {href}")
            elif resolve is not None and (problem := resolve(rel, href)):
                found.append(f"{rel}: {problem}")
    for rel, value in (document.get("_embedded") or {}).items():
        if rel.startswith("inf:") and rel[4:] not in known_rels:
            found.append(f"undocumented relation {rel}")
        for item in value if isinstance(value, list) else [value]:
            href = _self_href(item)
            if href is None:
                keys = sorted(item) if isinstance(item, dict) else type(item).__name__
                found.append(f"{rel}: embedded item without a self href ({keys})")
            elif embed is not None and (problem := embed(rel, href)):
                found.append(f"{rel}: {problem}")
            found.extend(link_problems(item, known_rels, resolve, embed))
    return found


def _self_href(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    own = (item.get("_links") or {}).get("self")
    href = own.get("href") if isinstance(own, dict) else None
    return href if isinstance(href, str) and href else None


def _hub_path(href: str, host: str, root_path: str) -> str | None:
    """The path the hub routes for ``href`` (templates expanded with sample values, the
    proxy prefix taken off); None for an href to another host, not the hub's to answer."""
    expanded = uritemplate.expand(href, _SAMPLES) if hal.is_uri_template(href) else href
    parts = urlsplit(expanded)
    if parts.netloc and parts.netloc != host:
        return None
    path = parts.path
    if root_path and path.startswith(root_path + "/"):
        path = path[len(root_path):]
    return path


def route_resolver(app, host: str, root_path: str,
                   action_path: str | None = None) -> Callable[[str, str], str | None]:
    """Checks an href against the app's URL map, as the hub would route a request for it:
    it must reach a route (no 404), and one that answers GET unless the relation names an
    action (no 405); every method reaches that one route or is refused with 405.
    Templates are expanded with sample values; curies with each known relation. Hrefs to
    other hosts are not the hub's to answer. ``action_path``: the answer is the outcome of
    an action (a POST that creates nothing), whose ``self`` names it."""
    adapter = app.url_map.bind(host)
    action = None
    if action_path:
        with contextlib.suppress(HTTPException, RequestRedirect):
            action = adapter.match(action_path, method="POST")[0]

    def resolve(rel: str, href: str) -> str | None:
        path = _hub_path(href, host, root_path)
        if path is None:
            return None
        if rel == "self" and action is not None:
            with contextlib.suppress(HTTPException, RequestRedirect):
                if adapter.match(path, method="POST")[0] == action:
                    return None  # the outcome of an action names the action
        try:
            adapter.match(path, method="GET" if rel not in ACTION_RELS else "POST")
        except RequestRedirect as redirect:
            return f"{href} redirects to {redirect.new_url}"
        except MethodNotAllowed as refused:
            if rel not in ACTION_RELS or not refused.valid_methods:
                return f"{href} does not answer {'GET' if rel not in ACTION_RELS else 'POST'}"
        except NotFound:
            return f"{href} reaches no route"
        return route_methods_problem(app.url_map, host, path)

    return resolve


PROBED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@functools.lru_cache(maxsize=8192)
def route_methods_problem(url_map: Map, host: str, path: str) -> str | None:
    """One linked path is one resource: every method it takes reaches the same route, and
    the methods it refuses (405) name in ``Allow`` exactly those it takes. A path that
    reaches another route by another method has a fixed word taken for an id."""
    adapter = url_map.bind(host)
    endpoints: dict[str, str] = {}
    allowed: set[str] | None = None
    for method in PROBED_METHODS:
        try:
            endpoints[method] = adapter.match(path, method=method)[0]
        except MethodNotAllowed as refused:
            allowed = set(refused.valid_methods or ())
        except (HTTPException, RequestRedirect):
            return None  # reported by the resolver
    if len(set(endpoints.values())) > 1:
        by_method = ", ".join(f"{method} {endpoint}" for method, endpoint in endpoints.items())
        return f"{path} reaches other routes by method ({by_method})"
    taken = set(endpoints) | {"OPTIONS"} | ({"HEAD"} if "GET" in endpoints else set())
    if allowed is not None and allowed != taken:
        return f"{path} answers 405 with Allow {sorted(allowed)}, but takes {sorted(taken)}"
    return None


@functools.lru_cache(maxsize=8192)  # pages of a test name the same items again and again
def route_endpoint(url_map: Map, host: str, root_path: str, href: str) -> str | None:
    """The endpoint (the kind of resource) an href reaches: the route answering GET, or,
    for an action (POST only), the action itself, as ``route_resolver`` accepts an action's
    outcome naming its action. None when it reaches no route of the hub (``resolve``
    reports that) or another host."""
    path = _hub_path(href, host, root_path)
    if path is None:
        return None
    adapter = url_map.bind(host)
    try:
        return adapter.match(path, method="GET")[0]
    except MethodNotAllowed as refused:
        with contextlib.suppress(HTTPException, RequestRedirect):
            return adapter.match(path, method=sorted(refused.valid_methods or ["POST"])[0])[0]
    except (NotFound, RequestRedirect):
        pass
    return None


# The kind of every item embedded during the run (the endpoint its self reaches) -> the rel
# it was first embedded under, and its href: one rel for one kind of item everywhere.
EMBEDDED_KINDS: dict[str, tuple[str, str]] = {}


def embedding_checker(app, host: str, root_path: str,
                      seen: dict[str, tuple[str, str]]) -> Callable[[str, str], str | None]:
    """Checks that an item embedded under ``rel`` with self ``href`` is of a kind that was
    embedded under no other rel before (``seen``, first sighting wins)."""

    def check(rel: str, href: str) -> str | None:
        endpoint = route_endpoint(app.url_map, host, root_path, href)
        if endpoint is None:
            return None
        first_rel, first_href = seen.setdefault(endpoint, (rel, href))
        if first_rel != rel:
            return (f"{href} is a {endpoint}, embedded elsewhere as {first_rel} ({first_href});"
                    f" one kind of item has one rel")
        return None

    return check


# Values for template variables: any non-empty segment routes like a real id does.
_SAMPLES = {"rel": "integration", "principalId": "team:sample", "username": "sample",
            "tagId": "sample", "id": "sample", "start": 0, "limit": 1}


PROXIED = re.compile(r"/api/integrations/[^/]+/request(/|$)")
# Answers whose links and forms are checked (problems may link a remedy: inf:connect).
CHECKED_TYPES = ("application/hal+json", "application/prs.hal-forms+json", "application/json",
                 "application/problem+json")
# HAL-FORMS property types: the HTML input types.
INPUT_TYPES = frozenset({"hidden", "text", "textarea", "search", "tel", "url", "email",
                         "password", "date", "month", "week", "time", "datetime-local",
                         "number", "range", "color", "checkbox"})


def template_problems(document: Any, url_map: Map, host: str, root_path: str) -> list[str]:
    """HAL-FORMS hygiene: every template's target is a plain URL (no URI template) of a
    route taking the template's method (and every method it takes reaches that route), a
    body's content type is JSON, and every property is named once with an HTML input type."""
    found: list[str] = []
    templates = document.get("_templates") if isinstance(document, dict) else None
    for name, template in (templates or {}).items():
        method, target = template.get("method"), template.get("target")
        if not (isinstance(method, str) and isinstance(target, str)):
            found.append(f"template {name}: needs a method and a target")
            continue
        if hal.is_uri_template(target):
            found.append(f"template {name}: target {target} is a URI template")
            continue
        path = _hub_path(target, host, root_path)
        if path is not None:
            try:
                url_map.bind(host).match(path, method=method)
            except (HTTPException, RequestRedirect) as refused:
                found.append(f"template {name}: {method} {target} reaches no route "
                             f"({type(refused).__name__})")
            else:
                if problem := route_methods_problem(url_map, host, path):
                    found.append(f"template {name}: {problem}")
        properties = template.get("properties")
        if not isinstance(properties, list):
            found.append(f"template {name}: properties must be an array")
            continue
        if properties and template.get("contentType") != "application/json":
            found.append(f"template {name}: a body's content type is application/json")
        names = [p.get("name") for p in properties]
        if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
            found.append(f"template {name}: property names must be unique strings: {names}")
        found.extend(f"template {name}: property {p.get('name')} has type {p.get('type')!r}"
                     for p in properties if p.get("type", "text") not in INPUT_TYPES)
    return found


class WatchedClient(FlaskClient):
    """A test client that reports secrets to ``WATCH`` and checks every answer."""

    def open(self, *args: Any, **kwargs: Any):
        WATCH.remember_request(kwargs.get("json"))
        answer = super().open(*args, **kwargs)
        request = answer.request
        where = f"answer to {request.method} {request.path}"
        # The test client hands every answer over unread (``is_streamed``): read them all
        # (that buffers them for the test) but the upstream's own bytes, which the proxy
        # passes on as they are (the recording upstream echoes the credentials it got).
        if not PROXIED.search(request.path):
            WATCH.check(where, answer.get_data().decode("utf-8", "replace"))
            if answer.mimetype in CHECKED_TYPES:
                action = (request.path if request.method == "POST"
                          and answer.status_code == 200 else None)
                resolve = route_resolver(self.application, request.host, request.root_path,
                                         action)
                embed = embedding_checker(self.application, request.host, request.root_path,
                                          EMBEDDED_KINDS)
                document = answer.get_json(silent=True)
                problems = link_problems(document, set(RELATIONS), resolve, embed)
                problems += template_problems(document, self.application.url_map,
                                              request.host, request.root_path)
                WATCH.leaks.extend(f"{where}: {problem}" for problem in problems)
        WATCH.check(where + " headers", str(answer.headers))
        return answer
