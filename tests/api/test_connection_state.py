"""What the caller's connection says (``GET .../connection``) when there is one, when none
is needed and when one is missing; the connected account (``GET .../account``); and the
one problem for "not connected", wherever a caller meets it.

See docs/api-conventions.md, "The caller's connection".
"""

from __future__ import annotations

from sqlalchemy import select

from integration_hub.db.models import Connection
from tests.support.forms import read, templates
from tests.support.problems import assert_problem


def get(client, caller, href: str):
    return client.get(href, headers=caller.headers)


def connect(client, caller, integration: str, **body):
    answer = client.post(f"/api/integrations/{integration}/connect", headers=caller.headers,
                         json=body)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()


def state_of(client, caller, integration: str) -> dict:
    answer = get(client, caller, f"/api/integrations/{integration}/connection")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


# -- the connected account ----------------------------------------------------------------

def test_the_account_answers_every_field_the_connection_stores(client, session, member,
                                                               oauth_server, oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    connect(client, member, integration, accessToken="account-access-token", expiresIn=3600)
    session.rollback()
    row = session.scalars(select(Connection)).one()
    stored = dict(row.account)
    assert stored and None not in stored.values()  # the provider named the account fully

    base = f"/api/integrations/{integration}"
    for query in ("", "?refresh=true"):
        answer = get(client, member, f"{base}/account{query}")
        assert answer.status_code == 200, answer.get_data(as_text=True)
        account = answer.get_json()
        links = account.pop("_links", None)
        assert account == stored

    assert links["self"]["href"] == f"{base}/account"
    assert get(client, member, base).get_json()["_links"]["inf:account"] == links["self"]
    again = get(client, member, links["self"]["href"])
    assert again.status_code == 200 and again.get_json()["_links"] == links
    described = get(client, member, links["inf:integration"]["href"])
    assert described.status_code == 200 and described.get_json()["id"] == integration
    connection = get(client, member, links["inf:connection"]["href"])
    assert connection.status_code == 200 and connection.get_json()["id"] == row.id
    assert connection.get_json()["account"] == stored


# -- nothing to connect ---------------------------------------------------------------------

def test_without_authentication_calls_are_ready_and_nothing_is_offered_to_connect(
        client, session, admin, member, make_integration):
    integration = make_integration("Open Data", type="custom", auth_type="none",
                                   mode="per-user", shares={"mia": 1})
    base = f"/api/integrations/{integration}"
    for caller in (member, admin):
        state = state_of(client, caller, integration)
        assert (state["status"], state["credentials"], state["mode"], state["integrationId"]) \
            == ("ready", "none", "per-user", integration)
        assert not {"id", "ownerId", "account"} & set(state)  # no stored connection
        assert set(state["_links"]) == {"self", "inf:integration"}
        assert get(client, caller, state["_links"]["self"]["href"]).get_json() == state
        assert templates(client, caller, state["_links"]["self"]["href"]) == {}
        document = read(client, caller, base).get_json()
        assert not {"inf:connect", "inf:account"} & set(document["_links"])
        assert "connect" not in document.get("_templates", {})

    for answer in (get(client, member, f"{base}/connect"),
                   client.post(f"{base}/connect", headers=member.headers, json={}),
                   client.post(f"{base}/connect", headers=member.headers,
                               json={"apiKey": "a-key-for-nothing"})):
        problem = assert_problem(answer, 409, "nothing_to_connect")
        assert "_links" not in problem
    assert_problem(get(client, member, f"{base}/account"), 404, "not_found")
    assert session.scalars(select(Connection)).all() == []


def test_an_integration_holding_its_own_key_is_ready(client, member, make_caller,
                                                     make_integration):
    """Calls send the integration's key; a writer may still connect the shared account,
    and in per-user mode anyone may connect a key of their own."""
    writer = make_caller("wes")
    for mode, reader_may_connect in (("shared", False), ("per-user", True)):
        integration = make_integration(f"Keyed {mode}", type="custom", auth_type="apikey",
                                       mode=mode, api_key=f"integration-own-key-{mode}-7319",
                                       shares={"mia": 1, "wes": 2})
        for caller, may_connect in ((member, reader_may_connect), (writer, True)):
            state = state_of(client, caller, integration)
            assert (state["status"], state["credentials"], state["mode"]) == (
                "ready", "integration", mode)
            assert ("inf:connect" in state["_links"]) is may_connect
            assert "inf:account" not in state["_links"]
            described = get(client, caller, f"/api/integrations/{integration}").get_json()
            assert ("inf:connect" in described["_links"]) is may_connect

    mine = connect(client, member, integration, apiKey="members-own-key-5521")
    state = state_of(client, member, integration)
    assert (state["status"], state["credentials"], state["id"]) == (
        "active", "connection", mine["id"])


def test_a_shared_connection_is_ready_for_readers_and_reconnectable_by_writers(
        client, member, make_caller, oauth_server, oauth_integration):
    writer = make_caller("wes")
    integration = oauth_integration(mode="shared", shares={"mia": 1, "wes": 2})
    made = connect(client, writer, integration, accessToken="shared-access-token",
                   expiresIn=3600)
    for caller, may_connect in ((member, False), (writer, True)):
        state = state_of(client, caller, integration)
        assert (state["id"], state["status"], state["mode"], state["credentials"]) == (
            made["id"], "active", "shared", "connection")
        assert state["isShared"] is True and state["ownerId"] == "wes"
        assert ("inf:connect" in state["_links"]) is may_connect
        described = get(client, caller, f"/api/integrations/{integration}").get_json()
        assert ("inf:connect" in described["_links"]) is may_connect


def test_a_per_user_database_needs_each_users_login(client, member, make_integration):
    """authType none does not make a database free: in per-user mode each user connects."""
    integration = make_integration("Team DB", type="postgresql", auth_type="none",
                                   mode="per-user", shares={"mia": 1},
                                   data={"host": "127.0.0.1", "port": 5432, "database": "x"})
    missing = get(client, member, f"/api/integrations/{integration}/connection")
    problem = assert_problem(missing, 404, "integration_not_connected")
    assert problem["_links"]["inf:connect"]["href"] == f"/api/integrations/{integration}/connect"
    forms = templates(client, member, f"/api/integrations/{integration}")
    assert {p["name"] for p in forms["connect"]["properties"]} == {"username", "password"}
    listed = get(client, member, "/api/integrations-list").get_json()
    assert [row["connected"] for row in listed if row["id"] == integration] == [False]


# -- one problem for "not connected" --------------------------------------------------------

def test_not_connected_is_one_problem_wherever_it_is_met(client, member, make_caller, upstream,
                                                         oauth_integration):
    """The same code and title from the connection, the account and the request proxy;
    its inf:connect link only for callers who may connect (readers of a shared-mode
    integration may not)."""
    writer = make_caller("wes")
    api = f"{upstream.url}/api"
    per_user = oauth_integration("Own Accounts", shares={"mia": 1}, api_base_uri=api)
    shared = oauth_integration("One Account", mode="shared", shares={"mia": 1, "wes": 2},
                               api_base_uri=api)
    titles = set()
    for integration, caller, may_connect in ((per_user, member, True), (shared, member, False),
                                             (shared, writer, True)):
        base = f"/api/integrations/{integration}"
        answers = ((get(client, caller, f"{base}/connection"), 404),
                   (get(client, caller, f"{base}/account"), 404),
                   (get(client, caller, f"{base}/account?refresh=true"), 409),
                   (get(client, caller, f"{base}/request/me"), 409),
                   (client.post(f"{base}/request", headers=caller.headers, json={"url": "me"}),
                    409))
        for answer, status in answers:
            problem = assert_problem(answer, status, "integration_not_connected")
            titles.add(problem["title"])
            assert ("inf:connect" in problem.get("_links", {})) is may_connect, (
                integration, caller.username, answer.request.path)
    assert len(titles) == 1, titles
    assert upstream.requests() == []
