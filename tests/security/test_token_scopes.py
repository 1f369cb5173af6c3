"""What a token may do: its scopes, checked once, at authentication (docs/security.md,
"API tokens: lineage and scopes").

- ``read``: GET and HEAD on the API (everything but the request proxy's doors);
- ``proxy``: the request proxy, every method;
- ``admin``: anything the token's user may do, writes and token management included.

A request outside the token's scopes is 403 ``token_scope_insufficient`` naming the scope
it needs, before the view runs. Tokens made by a browser session or the command line hold
every scope unless asked for fewer; tokens that existed before scopes hold every scope.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select, text

from integration_hub import create_app, errors
from integration_hub.api import RESOURCE_MODULES
from integration_hub.db import migrations
from integration_hub.db.models import ApiToken
from integration_hub.identity import tokens
from integration_hub.identity.tokens import hash_token
from tests import factories
from tests.conftest import make_settings
from tests.support.problems import assert_problem

ALL_SCOPES = ["read", "proxy", "admin"]


def bearer(plain: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plain}"}


def scoped(client, caller, *scopes: str) -> dict:
    answer = client.post("/api/tokens", headers=caller.headers,
                         json={"name": "+".join(scopes), "scopes": list(scopes)})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()


def refused(answer, needed: str) -> dict:
    problem = assert_problem(answer, 403, "token_scope_insufficient")
    assert problem["requiredScope"] == needed
    assert needed in problem["detail"]
    return problem


@pytest.fixture
def keyed(make_integration, upstream):
    """An API-key integration on the recording upstream, shared with mia (read/use)."""
    return make_integration("Upstream", type="custom", auth_type="apikey", mode="shared",
                            api_base_uri=f"{upstream.url}/v1", api_key="scoped-upstream-key-7781",
                            api_key_name="X-Api-Key", shares={"mia": 1})


def my_tokens(client, caller) -> list[dict]:
    page = client.get("/api/tokens?limit=500", headers=caller.headers).get_json()
    return page["_embedded"]["inf:token"]


def test_a_read_token_reads_but_cannot_proxy_or_make_tokens(client, member, upstream, keyed):
    read = bearer(scoped(client, member, "read")["token"])
    before = len(my_tokens(client, member))

    assert client.get("/api/me", headers=read).status_code == 200
    assert client.get(f"/api/integrations/{keyed}", headers=read).status_code == 200
    assert client.head("/api/integrations", headers=read).status_code == 200
    refused(client.post(f"/api/integrations/{keyed}/request", headers=read,
                        json={"url": "items", "method": "POST", "data": {"a": 1}}), "proxy")
    refused(client.post(f"/api/integrations/{keyed}/request/items", headers=read,
                        json={"a": 1}), "proxy")
    refused(client.get(f"/api/integrations/{keyed}/request/items", headers=read), "proxy")
    refused(client.post("/api/tokens", headers=read, json={"name": "wider"}), "admin")
    refused(client.post("/api/tokens", headers=read, json={"scopes": ["read"]}), "admin")
    refused(client.delete(f"/api/tokens/{my_tokens(client, member)[0]['id']}", headers=read),
            "admin")

    assert upstream.requests() == []
    assert len(my_tokens(client, member)) == before


def test_a_proxy_token_calls_the_proxy_and_reads_nothing_else(client, member, upstream, keyed):
    proxy = bearer(scoped(client, member, "proxy")["token"])

    envelope = client.post(f"/api/integrations/{keyed}/request", headers=proxy,
                           json={"url": "items", "method": "POST", "data": {"a": 1}})
    raw = client.put(f"/api/integrations/{keyed}/request/items/7", headers=proxy, json={"b": 2})

    assert envelope.status_code == 200 and raw.status_code == 200
    assert [(r.method, r.path) for r in upstream.requests()] == [
        ("POST", "/v1/items"), ("PUT", "/v1/items/7")]
    assert all(r.header("X-Api-Key") == "scoped-upstream-key-7781" for r in upstream.requests())
    refused(client.get("/api/users", headers=proxy), "read")
    refused(client.get("/api/me", headers=proxy), "read")
    assert client.head("/api/users", headers=proxy).status_code == 403
    refused(client.get(f"/api/integrations/{keyed}/requests", headers=proxy), "read")
    refused(client.post(f"/api/integrations/{keyed}/connect", headers=proxy,
                        json={"apiKey": "mine"}), "admin")


def test_an_admin_token_does_what_its_user_may_and_no_more(client, member, admin, upstream,
                                                           keyed):
    token = scoped(client, member, "admin")
    power = bearer(token["token"])

    assert token["scopes"] == ALL_SCOPES  # admin includes reading and the proxy
    assert client.get("/api/users", headers=power).status_code == 200
    assert client.post(f"/api/integrations/{keyed}/request", headers=power,
                       json={"url": "items"}).status_code == 200
    assert client.post("/api/tokens", headers=power, json={}).status_code == 201
    # the user's own grant still decides: mia is no administrator
    assert_problem(client.put("/api/users/root", headers=power,
                              json={"displayName": "x"}), 403, "forbidden")


def test_new_tokens_hold_every_scope_unless_asked_for_fewer(client, member, session):
    listed = my_tokens(client, member)
    made = client.post("/api/tokens", headers=member.headers, json={}).get_json()
    fewer = scoped(client, member, "proxy", "read")

    assert [t["scopes"] for t in listed] == [ALL_SCOPES]  # the fixture's token (the service)
    assert made["scopes"] == ALL_SCOPES
    assert fewer["scopes"] == ["read", "proxy"]
    child = client.post("/api/tokens", headers=bearer(made["token"]), json={}).get_json()
    assert child["scopes"] == ALL_SCOPES  # the parent's


@pytest.mark.parametrize("scopes", [[], ["write"], ["read", "root"], "admin", [None]])
def test_scopes_must_be_known(client, member, scopes):
    before = len(my_tokens(client, member))

    problem = assert_problem(client.post("/api/tokens", headers=member.headers,
                                         json={"scopes": scopes}), 422, "validation_failed")

    assert "scopes" in problem["errors"]
    assert len(my_tokens(client, member)) == before


def test_a_token_cannot_make_a_broader_token(app, session):
    """Only an ``admin`` token reaches POST /api/tokens, and it holds every scope; the rule
    holds in the service too, for any parent."""
    user = factories.user(session, "narrow")
    parent = tokens.issue_token(session, user, "parent", scopes=["read", "proxy"])
    session.commit()

    with pytest.raises(errors.HubError) as refusal:
        tokens.issue_token(session, user, "child", scopes=["read", "admin"],
                           parent_id=parent.record.id)
    session.rollback()
    narrower = tokens.issue_token(session, user, "child", scopes=["proxy"],
                                  parent_id=parent.record.id)
    same = tokens.issue_token(session, user, "same", parent_id=parent.record.id)

    assert refusal.value.status == 403 and refusal.value.code == "token_scope_exceeds_parent"
    assert refusal.value.extra["parentScopes"] == ["read", "proxy"]
    assert narrower.record.scopes == ["proxy"]
    assert same.record.scopes == ["read", "proxy"]
    session.commit()
    rows = session.scalars(select(ApiToken.name).where(ApiToken.user_id == user.id)).all()
    assert sorted(rows) == ["child", "parent", "same"]


def test_cli_tokens_take_scopes(app, client, member):
    runner = app.test_cli_runner()
    made = runner.invoke(args=["create-token", "mia", "--scope", "read", "--name", "dashboard"])
    everything = runner.invoke(args=["create-token", "mia"])
    wrong = runner.invoke(args=["create-token", "mia", "--scope", "root"])

    assert made.exit_code == 0 and everything.exit_code == 0, made.output
    read = bearer(made.stdout.strip().splitlines()[-1])
    assert client.get("/api/me", headers=read).status_code == 200
    refused(client.post("/api/tokens", headers=read, json={}), "admin")
    full = bearer(everything.stdout.strip().splitlines()[-1])
    assert client.post("/api/tokens", headers=full, json={}).status_code == 201
    assert wrong.exit_code == 2
    scopes = {t["name"]: t["scopes"] for t in my_tokens(client, member)}
    assert scopes["dashboard"] == ["read"] and scopes["cli"] == ALL_SCOPES


# -- every endpoint, by the scope it needs --------------------------------------------------

# The doors of the request proxy: they need ``proxy``, whatever the method.
PROXY_DOORS = {"proxy.Envelope", "proxy.Raw"}
# GETs that start something lasting: an OAuth flow, which ends in a new connection.
CHANGING_GETS = {"connections.Connect"}
SAFE = {"GET", "HEAD", "OPTIONS"}


def authenticated_routes(app) -> list[tuple[str, str, str]]:
    """(rule, method, endpoint) of every API route that needs credentials."""
    names = {module.blp.name for module in RESOURCE_MODULES}
    routes = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if rule.endpoint.partition(".")[0] not in names or getattr(
                getattr(view, "view_class", view), "hub_public", False):
            continue
        # HEAD answers carry no problem to tell the scope's refusal from the view's own
        # (the tests above send HEAD); OPTIONS is Flask's, from the same rule.
        routes += [(rule.rule, method, rule.endpoint)
                   for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return routes


def needed_scope(method: str, endpoint: str) -> str:
    if endpoint in PROXY_DOORS:
        return "proxy"
    if method in SAFE and endpoint not in CHANGING_GETS:
        return "read"
    return "admin"


def fill(rule: str) -> str:
    import re

    return re.sub(r"<[^>]+>", "unknown-id", rule)


def test_every_endpoint_needs_its_scope(client, member):
    holders = {scope: bearer(scoped(client, member, scope)["token"]) for scope in ("read", "proxy")}
    routes = authenticated_routes(client.application)
    assert len(routes) > 60  # the whole API, not a part of it
    problems = []
    for rule, method, endpoint in routes:
        needed = needed_scope(method, endpoint)
        for scope, headers in holders.items():
            answer = client.open(fill(rule), method=method, headers=headers)
            body = answer.get_json(silent=True) or {}
            was_refused = (answer.status_code == 403
                           and body.get("code") == "token_scope_insufficient")
            if was_refused != (scope != needed):
                problems.append(f"{method} {rule} with a {scope} token: "
                                f"{answer.status_code} {body.get('code')}")
            elif was_refused and body.get("requiredScope") != needed:
                problems.append(f"{method} {rule}: names {body.get('requiredScope')}, "
                                f"needs {needed}")
    assert not problems, "\n".join(problems)


# -- tokens from before scopes ---------------------------------------------------------------

def test_tokens_made_before_scopes_keep_every_power(backend, new_database_url, tmp_path):
    url = new_database_url(backend)
    migrations.upgrade(url, "0012")
    plain = tokens.generate_token()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO tenants (id, name, settings) VALUES ('default', 'Default', '{}')"))
        connection.execute(text(
            "INSERT INTO users (id, tenant_id, username, display_name, fields, superuser, "
            "permissions, enabled) VALUES (1, 'default', 'old', 'Old', '{}', false, '[]', true)"))
        connection.execute(text(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix) "
            "VALUES ('00000000-0000-4000-8000-000000000001', 1, 'old', :digest, :prefix)"),
            {"digest": hash_token(plain), "prefix": plain[:11]})
    engine.dispose()

    migrations.upgrade(url)
    hub = create_app(make_settings(url, tmp_path))
    try:
        client = hub.test_client()
        listed = client.get("/api/tokens", headers=bearer(plain)).get_json()
        made = client.post("/api/tokens", headers=bearer(plain), json={})

        assert [t["scopes"] for t in listed["_embedded"]["inf:token"]] == [ALL_SCOPES]
        assert listed["_embedded"]["inf:token"][0]["parentId"] is None
        assert made.status_code == 201 and made.get_json()["scopes"] == ALL_SCOPES
    finally:
        hub.extensions["integration_hub.db"].kw["bind"].dispose()
