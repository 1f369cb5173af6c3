"""Every address the hub links to takes each method or refuses it with 405, never 404.

An administrator's world is arranged (a team with a member, an integration shared with
it, connected, called through the proxy, tagged, with imported records, a webhook with a
delivery); then a client walks the API from ``GET /api`` alone, asking for HAL-FORMS, and
collects every href (templated ones expanded with the world's real ids) and every
HAL-FORMS template. Each address is then sent GET, POST, PUT, PATCH and DELETE:

- a method the route takes is *served*: anything but 405 and the route-less
  ``404 not_found``; a GET also never answers 404 at all (everything linked exists in this
  world, the caller's connection included), and nothing answers 5xx;
- a method it does not take answers ``405 method_not_allowed`` (problem+json) whose
  ``Allow`` names exactly the methods that were served (with HEAD beside GET, and OPTIONS);
- a template's method is served on its target.

The walk and the probes use a read-only token of the administrator, so a write that is
served stops at ``403 token_scope_insufficient`` before any view runs: nothing changes
while the walk goes on.
"""

from __future__ import annotations

import io
import json
from collections import deque
from urllib.parse import urlsplit

import uritemplate

from integration_hub.hal import documents as hal
from integration_hub.identity import directory as identity
from integration_hub.integrations.rules import slug_problem
from tests import factories
from tests.support.forms import HAL_FORMS

PROBED = ("GET", "POST", "PUT", "PATCH", "DELETE")
ACCEPT = f"{HAL_FORMS}, application/hal+json;q=0.9, */*;q=0.8"
WALK_LIMIT = 600  # addresses; the arranged world has far fewer


def _arrange(client, admin, member, upstream, make_webhook, run_queue) -> dict[str, list[str]]:
    """The world, made with the administrator's full token; answers the values of the
    hub's URI template variables that name something real in it."""
    def call(method, path, **kwargs):
        answer = client.open(path, method=method, headers=admin.headers, **kwargs)
        assert answer.status_code < 300, (method, path, answer.get_data(as_text=True))
        return answer.get_json(silent=True)

    team = call("POST", "/api/teams", json={
        "id": "team:walkers", "name": "Walkers", "members": [{"username": member.username}]})
    integration = call("POST", "/api/integrations", json={
        "name": "Walked API", "type": "custom", "authType": "apikey",
        "apiBaseUri": f"{upstream.url}/v1"})
    me = integration["_links"]["self"]["href"]
    call("PUT", f"{me}/shares/{team['id']}", json={"accessLevel": 1})
    call("POST", f"{me}/connect", json={"apiKey": "walked-api-key-1"})
    tag = call("POST", "/api/tags", json={"name": "walked"})
    call("PUT", f"{me}/tags/{tag['id']}")
    call("POST", f"{me}/request", json={"url": "items", "method": "GET"})
    call("POST", f"{me}/import", content_type="multipart/form-data", data={
        "model": "items", "resources_file": (io.BytesIO(b"id,name\nr1,One\n"), "items.csv")})
    hook = make_webhook()
    call("POST", hook["_links"]["inf:webhook-ping"]["href"])
    run_queue()
    return {"principalId": [team["id"]], "username": [member.username]}


def _links(document) -> list[dict]:
    """Every link object of a document: its own, its embedded items', a problem's."""
    found: list[dict] = []
    if isinstance(document, list):
        for item in document:
            found.extend(_links(item))
    elif isinstance(document, dict):
        for value in (document.get("_links") or {}).values():
            found.extend(link for link in (value if isinstance(value, list) else [value])
                         if isinstance(link, dict) and isinstance(link.get("href"), str))
        for key, value in document.items():
            if key != "_links":
                found.extend(_links(value))
    return found


def _templates(document) -> list[dict]:
    found: list[dict] = []
    if isinstance(document, list):
        for item in document:
            found.extend(_templates(item))
    elif isinstance(document, dict):
        found.extend((document.get("_templates") or {}).values())
        for key, value in document.items():
            if key != "_templates":
                found.extend(_templates(value))
    return found


def _expansions(href: str, values: dict[str, list[str]], rels: set[str]) -> list[str]:
    """The href, or a template expanded with every real value of its variables."""
    if not hal.is_uri_template(href):
        return [href]
    variables = uritemplate.URITemplate(href).variable_names
    choices = {**values, "rel": sorted(rels)}
    missing = variables - set(choices)
    assert not missing, f"no real value for {sorted(missing)} in {href}"
    expanded = [{}]
    for name in sorted(variables):
        expanded = [{**done, name: value} for done in expanded for value in choices[name]]
    return [uritemplate.expand(href, chosen) for chosen in expanded]


def _walk(client, headers, values) -> tuple[set[str], list[tuple[str, str]], list[str]]:
    """GET every linked address from /api: answers the addresses, the templates
    (method, target) and what went wrong on the way."""
    rels: set[str] = set()
    seen, queue = {"/api"}, deque(["/api"])
    templated: set[str] = set()
    forms: list[tuple[str, str]] = []
    problems: list[str] = []
    while queue:
        url = queue.popleft()
        answer = client.get(url, headers={**headers, "Accept": ACCEPT})
        if answer.status_code == 404 or answer.status_code >= 500:
            problems.append(f"GET {url}: {answer.status_code} {_code(answer)}")
        if not answer.is_json:
            continue
        document = answer.get_json()
        for link in _links(document):
            if link.get("templated"):
                templated.add(link["href"])
            elif urlsplit(link["href"]).netloc in ("", "localhost"):
                found = urlsplit(link["href"])._replace(scheme="", netloc="", fragment="")
                if (found := found.geturl()) not in seen:
                    seen.add(found)
                    queue.append(found)
        rels.update(rel[4:] for rel in _rels(document))
        forms.extend((form["method"], form["target"]) for form in _templates(document))
        assert len(seen) < WALK_LIMIT, "the walk does not end"
    for href in templated:
        seen.update(_expansions(href, values, rels))
    seen.update(target for _, target in forms)
    return seen, forms, problems


def _rels(document) -> set[str]:
    found: set[str] = set()
    if isinstance(document, list):
        for item in document:
            found |= _rels(item)
    elif isinstance(document, dict):
        found |= {rel for rel in (document.get("_links") or {}) if rel.startswith("inf:")}
        found |= {rel for rel in (document.get("_embedded") or {}) if rel.startswith("inf:")}
        for key, value in document.items():
            if key != "_links":
                found |= _rels(value)
    return found


def _code(answer) -> str | None:
    body = answer.get_json(silent=True) if answer.is_json else None
    return body.get("code") if isinstance(body, dict) else None


def _served(answer) -> bool:
    return answer.status_code != 405 and not (
        answer.status_code == 404 and _code(answer) == "not_found")


def _method_problems(client, headers, path: str) -> tuple[set[str], list[str]]:
    """Sends each probed method to ``path``; answers those served and the problems."""
    problems, served, allowed = [], set(), set()
    for method in PROBED:
        answer = client.open(path, method=method, headers=headers)
        if answer.status_code >= 500:
            problems.append(f"{method} {path}: {answer.status_code}")
        if _served(answer):
            served.add(method)
            continue
        if answer.status_code == 404:
            problems.append(f"{method} {path}: 404 for an address the hub links to")
            continue
        if (answer.mimetype != "application/problem+json"
                or _code(answer) != "method_not_allowed"):
            problems.append(f"{method} {path}: 405 is not the problem method_not_allowed")
        allowed.add(answer.headers.get("Allow", ""))
    expected = served | {"OPTIONS"} | ({"HEAD"} if "GET" in served else set())
    for header in allowed:
        named = {word.strip() for word in header.split(",") if word.strip()}
        if named != expected:
            problems.append(f"{path}: Allow says {sorted(named)}, served {sorted(expected)}")
    return served, problems


def test_every_linked_address_takes_each_method_or_answers_405(
        app, client, admin, member, upstream, make_webhook, run_queue):
    values = _arrange(client, admin, member, upstream, make_webhook, run_queue)
    with app.extensions["integration_hub.db"]() as session:
        user = identity.get_user(session, admin.tenant, admin.username)
        reader = factories.token(session, user, "walker", scopes=["read"])
        session.commit()
    headers = {"Authorization": f"Bearer {reader}"}

    addresses, forms, problems = _walk(client, headers, values)
    served: dict[str, set[str]] = {}
    for address in sorted(addresses):
        path = urlsplit(address).path
        if path not in served:
            served[path], found = _method_problems(client, headers, path)
            problems.extend(found)
    for method, target in forms:
        if method not in served[urlsplit(target).path]:
            problems.append(f"a template sends {method} to {target}, which refuses it")

    # The walk reached the kinds of addresses the world has (so it can fail on them).
    assert {"/api/integrations/provision", "/api/teams/team%3Awalkers/members/mia",
            "/api/logout"} <= set(served), sorted(served)
    assert any(path.endswith("/deliveries") for path in served)
    assert not problems, json.dumps(problems, indent=1)


def test_a_fixed_word_refuses_other_methods_with_its_own_allow(client, admin):
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        answer = client.open("/api/integrations/provision", method=method, headers=admin.headers)
        assert (answer.status_code, _code(answer)) == (405, "method_not_allowed"), method
        assert answer.mimetype == "application/problem+json"
        assert {m.strip() for m in answer.headers["Allow"].split(",")} == {"POST", "OPTIONS"}
    # and it is no integration id further down either: no route, not an unknown integration
    answer = client.get("/api/integrations/provision/shares", headers=admin.headers)
    assert (answer.status_code, _code(answer)) == (404, "not_found")


def test_no_integration_can_be_named_by_a_fixed_word(migrated_app):
    """A slug that is a fixed word in the integration's place would name no integration."""
    [rule] = [r for r in migrated_app.url_map.iter_rules()
              if r.endpoint == "integrations.Integration"]
    words = rule.fixed_words["integration_id"]
    assert "provision" in words
    assert all(slug_problem(word) for word in words), words
