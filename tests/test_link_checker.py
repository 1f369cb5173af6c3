"""The link check every test answer goes through (tests/secret_watch.py) finds what it
should: hrefs that reach no route, navigation links to action-only routes, paths that
reach other routes by method, template flags that do not match, templated hrefs that are
not RFC 6570 templates, embedded items without self, one kind of item embedded under two
rels, and HAL-FORMS templates no route takes; and it passes real links, templates,
curies, embedded items and forms."""

import pytest
from flask import Flask

from integration_hub.hal.relations import RELATIONS
from tests.secret_watch import (
    embedding_checker,
    is_valid_uri_template,
    link_problems,
    route_resolver,
    template_problems,
)


@pytest.fixture
def problems(migrated_app):
    resolve = route_resolver(migrated_app, "localhost", "")
    return lambda links: link_problems({"_links": links}, set(RELATIONS), resolve)


def test_real_links_templates_and_curies_pass(problems):
    assert problems({
        "self": {"href": "/api/integrations/some-id"},
        "curies": [{"name": "inf", "href": "/api/rels/{rel}", "templated": True}],
        "inf:integration-share": {"href": "/api/integrations/some-id/shares/{principalId}",
                                  "templated": True},
        "inf:request": {"href": "/api/integrations/some-id/request"},
        "next": {"href": "http://localhost/api/integrations?start=50&limit=50"},
        "describedby": {"href": "/api/openapi.json"},
        "external": {"href": "https://docs.example.org/anything"},
    }) == []


def test_an_href_that_reaches_no_route_is_found(problems):
    assert problems({"self": {"href": "/api/nowhere/at-all"}}) == [
        "self: /api/nowhere/at-all reaches no route"]


def test_a_navigation_link_to_an_action_only_route_is_found(problems):
    assert problems({"inf:integrations": {"href": "/api/integrations/some-id/request"}}) == [
        "inf:integrations: /api/integrations/some-id/request does not answer GET"]


def test_a_path_reaching_other_routes_by_method_is_found():
    """Plain Werkzeug takes ``special`` for a thing's id when its own rule refuses the
    method; the hub's routing does not (integration_hub/edge/routing.py)."""
    app = Flask(__name__)
    app.add_url_rule("/things/<thing_id>", "thing", methods=["GET", "PUT"])
    app.add_url_rule("/things/special", "special", methods=["POST"])
    resolve = route_resolver(app, "localhost", "")
    assert resolve("inf:provision", "/things/special") == (
        "/things/special reaches other routes by method "
        "(GET thing, POST special, PUT thing)")
    assert resolve("inf:thing", "/things/other") is None


def test_every_route_method_is_the_same_resource_in_the_hub(migrated_app):
    resolve = route_resolver(migrated_app, "localhost", "")
    assert resolve("inf:provision", "/api/integrations/provision") is None


def test_template_flags_must_match(problems):
    assert problems({"self": {"href": "/api/integrations/{id}"}}) == [
        "self: templated flag does not match /api/integrations/{id}"]
    assert problems({"self": {"href": "/api/integrations", "templated": True}}) == [
        "self: templated flag does not match /api/integrations"]


def test_the_outcome_of_an_action_may_name_the_action_as_self(migrated_app):
    # POST .../store by slug answers a result whose self is the same action by id.
    resolve = route_resolver(migrated_app, "localhost", "", "/api/integrations/a-slug/store")
    document = {"_links": {"self": {"href": "/api/integrations/some-id/store"},
                           "inf:records": {"href": "/api/integrations/some-id/store"}}}
    assert link_problems(document, set(RELATIONS), resolve) == [
        "inf:records: /api/integrations/some-id/store does not answer GET"]


@pytest.fixture
def embedded_problems(migrated_app):
    """Checks documents against a registry of their own, not the run's (EMBEDDED_KINDS)."""
    resolve = route_resolver(migrated_app, "localhost", "")
    embed = embedding_checker(migrated_app, "localhost", "", {})
    return lambda document: link_problems(document, set(RELATIONS), resolve, embed)


def _item(href, **state):
    return {"_links": {"self": {"href": href}}, **state}


def test_real_embedded_items_pass(embedded_problems):
    # A page of shares, each embedding its principal as a single object, and a user page
    # embedding the same users: one kind (users.User), one rel.
    shares = {"_links": {"self": {"href": "/api/integrations/i1/shares"}},
              "_embedded": {"inf:integration-share": [
                  {**_item("/api/integrations/i1/shares/mia"),
                   "_embedded": {"inf:user": _item("/api/users/mia")}}]}}
    users = {"_links": {"self": {"href": "/api/users"}},
             "_embedded": {"inf:user": [_item("/api/users/ann"), _item("/api/users/mia")]}}
    assert embedded_problems(shares) == []
    assert embedded_problems(users) == []


def test_an_embedded_item_without_self_is_found(embedded_problems):
    page = {"_links": {"self": {"href": "/api/tags"}},
            "_embedded": {"inf:tag": [_item("/api/tags/t1"), {"id": "t2", "_links": {}}],
                          "inf:integration": {"_embedded": {"inf:tag": [{"id": "t3"}]}}}}
    assert embedded_problems(page) == [
        "inf:tag: embedded item without a self href (['_links', 'id'])",
        "inf:integration: embedded item without a self href (['_embedded'])",
        "inf:tag: embedded item without a self href (['id'])"]


def test_one_kind_of_item_under_two_rels_is_found(embedded_problems):
    assert embedded_problems({"_links": {"self": {"href": "/api/users"}},
                              "_embedded": {"inf:user": [_item("/api/users/ann")]}}) == []
    # Another answer of the run embeds a user (users.User) as the integration's owner.
    integration = {**_item("/api/integrations/i1"),
                   "_embedded": {"inf:integration-owner": _item("/api/users/mia")}}
    assert embedded_problems(integration) == [
        "inf:integration-owner: /api/users/mia is a users.User, embedded elsewhere as inf:user "
        "(/api/users/ann); one kind of item has one rel"]


def test_the_kind_of_an_embedded_item_ignores_its_id_query_and_fragment(embedded_problems):
    # Entries of the request logs of two integrations: one kind.
    log = {"_links": {"self": {"href": "/api/integrations/i1/requests"}},
           "_embedded": {"inf:proxy-request": [_item("/api/integrations/i1/requests/r1"),
                                               _item("/api/integrations/i2/requests/r2#a")]}}
    assert embedded_problems(log) == []
    assert embedded_problems({"_embedded": {"inf:integration": [
        _item("/api/integrations/i1/requests/r3?start=0#b")]}}) == [
        "inf:integration: /api/integrations/i1/requests/r3?start=0#b is a proxy.LoggedRequest, "
        "embedded elsewhere as inf:proxy-request (/api/integrations/i1/requests/r1); "
        "one kind of item has one rel"]


def _form(method, target, *properties, content_type="application/json"):
    form = {"method": method, "target": target, "properties": list(properties)}
    return {**form, "contentType": content_type} if properties else form


@pytest.fixture
def form_problems(migrated_app):
    return lambda **forms: template_problems({"_templates": forms}, migrated_app.url_map,
                                             "localhost", "")


def test_real_forms_pass(form_problems):
    assert form_problems(
        default=_form("PUT", "/api/integrations/some-id", {"name": "name", "type": "text"}),
        forceDelete=_form("DELETE", "http://localhost/api/integrations/some-id?force=true"),
        share=_form("POST", "/api/integrations/some-id/shares",
                    {"name": "principalId", "type": "text", "required": True},
                    {"name": "accessLevel", "type": "number"}),
        ping=_form("POST", "/api/webhooks/some-id/ping")) == []


def test_forms_no_route_takes_are_found(form_problems):
    found = form_problems(
        wrongMethod=_form("PUT", "/api/tokens", {"name": "name"}),
        nowhere=_form("DELETE", "/api/no-such-thing"),
        templated=_form("PUT", "/api/integrations/some-id/shares/{principalId}"))
    assert [problem.split(":")[0] for problem in found] == [
        "template wrongMethod", "template nowhere", "template templated"]


def test_malformed_properties_are_found(form_problems):
    found = form_problems(
        form=_form("POST", "/api/tags", {"name": "color", "type": "colour"},
                   {"name": "color", "type": "text"}, content_type="text/plain"))
    assert len(found) == 3, found


@pytest.mark.parametrize(
    ("href", "valid"),
    [
        ("/a/{b}", True),
        ("/a{?x,y}", True),
        ("/a/{b:3}", True),
        ("/a/{/p*}", True),
        ("/a/{+path}/{id}{?q}", True),
        ("/a/b", True),
        ("/a/{b", False),
        ("/a/b}", False),
        ("/a/{}", False),
        ("/a/{b c}", False),
        ("/a/{{b}}", False),
        ("/a/{b:0}", False),
        ("/a/{b}}", False),
    ],
)
def test_is_valid_uri_template(href, valid):
    assert is_valid_uri_template(href) is valid
