"""The link check every test answer goes through (tests/secret_watch.py) finds what it
should: hrefs that reach no route, navigation links to action-only routes, and template
flags that do not match; and it passes real links, templates and curies."""

import pytest

from integration_hub.rels import RELATIONS
from tests.secret_watch import link_problems, route_resolver


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
