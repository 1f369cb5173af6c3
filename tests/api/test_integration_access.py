"""Who may do what with an integration, every kind of caller against every endpoint.

Levels: 1 read/use, 2 write, 3 share. The owner (a user, or every member of the
owning team) and the tenant's superusers have everything; only they may delete
an integration or transfer its ownership. A caller who cannot read the
integration gets 404 from every endpoint (its existence is not revealed), one
who can read it but lacks the level gets 403, an anonymous caller 401. Refusals
are problem+json and never carry the integration's values.

See docs/decisions.md, "Integrations and the ACL".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from integration_hub.db.models import Integration
from integration_hub.identity import directory as identity
from tests import factories

NAME = "Zebra Secret Name"
SLUG = "zebra-secret-slug"
DESCRIPTION = "unique-description-7f3"
API_BASE_URI = "https://zebra.example.net/api"
CLIENT_ID = "zebra-client-id"
VALUES = {"description": DESCRIPTION, "api_base_uri": API_BASE_URI, "client_id": CLIENT_ID}
OWNER_USER = "olga"
BYSTANDER = "bea"  # holds a level-1 share on every integration; becomes the new owner
SHARE_TARGET = "root"  # an existing user every test shares with afresh

READ, WRITE, SHARE, OWNER = 1, 2, 3, 4
NO_ACCESS, ANONYMOUS = 0, None


@dataclass(frozen=True)
class Role:
    """A kind of caller: how it is made and the access it should end up with."""

    name: str
    level: int | None
    username: str | None = None
    tenant: str = "default"
    superuser: bool = False
    team: str | None = None  # the caller's team, by slug
    share: int | None = None  # level shared with the caller (or their team)
    owns: bool = False  # the caller (or their team) owns the integration


ROLES = [
    Role("superuser", OWNER, "sue", superuser=True),
    Role("owner-user", OWNER, OWNER_USER, owns=True),
    Role("owner-team", OWNER, "u_owner_team", team="owners", owns=True),
    Role("share1-user", READ, "u_s1", share=1),
    Role("share2-user", WRITE, "u_s2", share=2),
    Role("share3-user", SHARE, "u_s3", share=3),
    Role("share1-team", READ, "u_t1", team="readers", share=1),
    Role("share2-team", WRITE, "u_t2", team="writers", share=2),
    Role("share3-team", SHARE, "u_t3", team="sharers", share=3),
    Role("unrelated-user", NO_ACCESS, "uma"),
    Role("foreign-superuser", NO_ACCESS, "fred", tenant="other", superuser=True),
    Role("anonymous", ANONYMOUS),
]


def _unchanged(state: dict) -> dict:
    return state


@dataclass(frozen=True)
class Endpoint:
    """One request against the integration, the level it needs and what it changes."""

    name: str
    method: str
    path: str  # {id} and {slug} are filled in
    needed: int
    success: int
    body: dict | None = None
    effect: Callable[[dict], dict | None] = field(default=_unchanged)
    # What offers the request in the integration's HAL-FORMS answer: a link relation,
    # or "template:<name>".
    offered_by: str | None = None


ENDPOINTS = [
    Endpoint("GET-integration", "GET", "/api/integrations/{id}", READ, 200, offered_by="self"),
    Endpoint("GET-integration-by-slug", "GET", "/api/integrations/{slug}", READ, 200),
    Endpoint("PUT-integration", "PUT", "/api/integrations/{id}", WRITE, 200,
             {"description": "changed"}, lambda s: {**s, "description": "changed"},
             "template:default"),
    Endpoint("PATCH-integration", "PATCH", "/api/integrations/{id}", WRITE, 200,
             {"description": "changed"}, lambda s: {**s, "description": "changed"}),
    Endpoint("GET-shares", "GET", "/api/integrations/{id}/shares", READ, 200,
             offered_by="inf:integration-shares"),
    Endpoint("GET-share", "GET", f"/api/integrations/{{id}}/shares/{BYSTANDER}", READ, 200),
    Endpoint("PUT-share", "PUT", f"/api/integrations/{{id}}/shares/{SHARE_TARGET}", SHARE, 201,
             {"accessLevel": 1}, lambda s: {**s, "shares": {**s["shares"], SHARE_TARGET: 1}},
             "inf:integration-share"),
    Endpoint("POST-share", "POST", "/api/integrations/{id}/shares", SHARE, 201,
             {"principalId": SHARE_TARGET, "accessLevel": 2},
             lambda s: {**s, "shares": {**s["shares"], SHARE_TARGET: 2}}, "template:share"),
    Endpoint("DELETE-share", "DELETE", f"/api/integrations/{{id}}/shares/{BYSTANDER}", SHARE, 204,
             effect=lambda s: {**s, "shares": {p: level for p, level in s["shares"].items()
                                               if p != BYSTANDER}}),
    Endpoint("GET-owner", "GET", "/api/integrations/{id}/owner", READ, 200,
             offered_by="inf:integration-owner"),
    Endpoint("PUT-owner", "PUT", "/api/integrations/{id}/owner", OWNER, 200,
             {"principalId": BYSTANDER}, lambda s: {**s, "owner": BYSTANDER}, "template:transfer"),
    Endpoint("DELETE-integration", "DELETE", "/api/integrations/{id}", OWNER, 204,
             effect=lambda s: None, offered_by="template:delete"),
    Endpoint("GET-connections", "GET", "/api/integrations/{id}/connections", OWNER, 200,
             offered_by="inf:connections"),
    Endpoint("GET-requests", "GET", "/api/integrations/{id}/requests", OWNER, 200,
             offered_by="inf:requests"),
    # The integration is in shared mode: connecting it changes it for everyone.
    Endpoint("POST-connect", "POST", "/api/integrations/{id}/connect", WRITE, 201,
             {"apiKey": "zebra-shared-key-5e1"}, offered_by="template:connect"),
]


def expected_status(role: Role, endpoint: Endpoint) -> int:
    if role.level is ANONYMOUS:
        return 401
    if role.level < READ:
        return 404
    return endpoint.success if role.level >= endpoint.needed else 403


def arrange_caller(role: Role, make_caller, session) -> tuple[dict, str, dict]:
    """The caller of ``role`` and the principals around it: headers, owner, shares to make."""
    headers = {}
    if role.username:
        headers = make_caller(role.username, tenant=role.tenant,
                              superuser=role.superuser).headers
    if role.username != OWNER_USER:
        factories.user(session, OWNER_USER)
    factories.user(session, BYSTANDER)
    principal = role.username
    if role.team:
        factories.team(session, role.team, members=[role.username])
        principal = f"team:{role.team}"
    session.commit()
    shares = {BYSTANDER: 1}
    if role.share:
        shares[principal] = role.share
    return headers, principal if role.owns else OWNER_USER, shares


def new_integration(make_integration, owner: str, shares: dict, slug: str = SLUG):
    """A fresh integration with distinctive values: its id and its stored state."""
    integration_id = make_integration(NAME, owner=owner, shares=shares, slug=slug, **VALUES)
    return integration_id, {"description": DESCRIPTION, "owner": owner, "shares": dict(shares)}


def stored_state(session, integration_id: str) -> dict | None:
    """What the database holds now (a new transaction sees the app's commits)."""
    session.rollback()
    integration = session.get(Integration, integration_id)
    if integration is None:
        return None
    return {"description": integration.description, "owner": integration.owner_id,
            "shares": {s.principal_id: s.access_level for s in integration.shares}}


def request(client, endpoint: Endpoint, integration_id: str, headers: dict):
    return client.open(endpoint.path.format(id=integration_id, slug=SLUG),
                       method=endpoint.method, headers=headers, json=endpoint.body)


def assert_refusal_reveals_nothing(answer, integration_id: str, slug: str, what: str) -> None:
    """problem+json with the right code, and not one of the integration's values."""
    assert answer.mimetype == "application/problem+json", what
    assert answer.get_json()["code"] == {
        401: "authentication_required", 403: "forbidden",
        404: "integration_not_found"}[answer.status_code], what
    body = answer.get_data(as_text=True)
    for value in (integration_id, NAME, slug, DESCRIPTION, API_BASE_URI, CLIENT_ID):
        assert value not in body, f"{what} reveals {value!r}"
    assert integration_id not in str(answer.headers), what


READS = [e for e in ENDPOINTS if e.method == "GET"]
CHANGES = [e for e in ENDPOINTS if e.method != "GET"]
# One test per role and kind of request (not per endpoint): each PostgreSQL test
# pays for truncating every table, and a whole row of the matrix in one
# assertion shows all of a role's mismatches at once.
BY_ROLE = [pytest.param(role, id=role.name) for role in ROLES]


@pytest.mark.parametrize("role", BY_ROLE)
def test_reads(client, session, make_caller, make_integration, role):
    """Reads change nothing, so one integration serves them all."""
    headers, owner, shares = arrange_caller(role, make_caller, session)
    integration_id, before = new_integration(make_integration, owner, shares)

    answers = {e.name: request(client, e, integration_id, headers) for e in READS}

    assert ({name: answer.status_code for name, answer in answers.items()}
            == {e.name: expected_status(role, e) for e in READS})
    for name, answer in answers.items():
        if answer.status_code >= 400:
            assert_refusal_reveals_nothing(answer, integration_id, SLUG, f"{role.name}-{name}")
        elif name.startswith("GET-integration"):
            assert answer.get_json()["id"] == integration_id
    assert stored_state(session, integration_id) == before


@pytest.mark.parametrize("role", BY_ROLE)
def test_changes(client, session, make_caller, make_integration, role):
    """Each change on a fresh integration: it happens exactly when the status says so."""
    headers, owner, shares = arrange_caller(role, make_caller, session)
    targets = {}  # endpoint -> slug, id, stored state of its own integration
    for n, endpoint in enumerate(CHANGES):
        slug = f"{SLUG}-{n}"
        targets[endpoint.name] = (slug, *new_integration(make_integration, owner, shares, slug))

    answers, outcomes, expected = {}, {}, {}
    for endpoint in CHANGES:
        _, integration_id, before = targets[endpoint.name]
        answers[endpoint.name] = answer = request(client, endpoint, integration_id, headers)
        status = expected_status(role, endpoint)
        expected[endpoint.name] = (status, before if status >= 400 else endpoint.effect(before))
        outcomes[endpoint.name] = (answer.status_code, stored_state(session, integration_id))

    assert outcomes == expected
    for name, answer in answers.items():
        if answer.status_code >= 400:
            slug, integration_id, _ = targets[name]
            assert_refusal_reveals_nothing(answer, integration_id, slug, f"{role.name}-{name}")


def _offers(document: dict, offered_by: str) -> bool:
    if offered_by.startswith("template:"):
        return offered_by.removeprefix("template:") in document.get("_templates", {})
    return offered_by in document["_links"]


READERS = [pytest.param(role, id=role.name) for role in ROLES if role.level and role.level >= READ]


@pytest.mark.parametrize("role", READERS)
def test_offered_actions_are_exactly_the_allowed_ones(client, session, make_caller,
                                                      make_integration, role):
    """A link or template appears exactly when the caller may use it (docs/api-conventions.md,
    "Affordances"). The matrix above shows each request succeeds exactly at its level; here
    each is offered exactly at that level, in the integration's HAL-FORMS answer and in the
    list's item."""
    headers, owner, shares = arrange_caller(role, make_caller, session)
    integration_id, _ = new_integration(make_integration, owner, shares)

    document = client.get(f"/api/integrations/{integration_id}",
                          headers={**headers, "Accept": "application/prs.hal-forms+json"}
                          ).get_json()
    page = client.get("/api/integrations", headers=headers).get_json()
    (listed,) = [i for i in page["_embedded"]["inf:integration"] if i["id"] == integration_id]

    offered = {e.name: _offers(document, e.offered_by) for e in ENDPOINTS if e.offered_by}
    assert offered == {e.name: role.level >= e.needed for e in ENDPOINTS if e.offered_by}
    assert listed["_links"] == document["_links"]


def test_lists_hold_exactly_the_readable_integrations(client, session, make_caller,
                                                      make_integration):
    """Both lists, for every caller: readable ones only, never embedded ones, own tenant only."""
    callers = {role.name: make_caller(role.username, tenant=role.tenant,
                                      superuser=role.superuser)
               for role in ROLES if role.username}
    for role in ROLES:
        if role.team:
            factories.team(session, role.team, members=[role.username])
    foreign_creator = identity.get_user(session, "other", "fred")
    foreign = factories.integration(session, foreign_creator, "Foreign API").id
    session.commit()
    everyone = {f"team:{r.team}" if r.team else r.username: 3 for r in ROLES if r.username}
    make_integration("Embedded API", owner=OWNER_USER, shares=everyone, embedded=True)
    unshared = make_integration("Nobody's API")
    readable = {}
    for role in ROLES:
        if role.owns or role.share:
            principal = f"team:{role.team}" if role.team else role.username
            shares = {principal: role.share} if role.share else {}
            owner = principal if role.owns else None
            readable[role.name] = {make_integration(f"{role.name} API", owner=owner,
                                                    shares=shares)}
    tenant_wide = {unshared}.union(*readable.values())
    expected = {**readable, "superuser": tenant_wide, "unrelated-user": set(),
                "foreign-superuser": {foreign}}

    seen = {}
    for name, caller in callers.items():
        page = client.get("/api/integrations", headers=caller.headers).get_json()
        flat = client.get("/api/integrations-list", headers=caller.headers).get_json()
        page_ids = {item["id"] for item in page["_embedded"]["inf:integration"]}
        assert page["total"] == len(page_ids), name
        assert {item["id"] for item in flat} == page_ids, name
        seen[name] = page_ids

    assert seen == expected
    for path in ("/api/integrations", "/api/integrations-list"):
        anonymous = client.get(path)
        assert anonymous.status_code == 401
        assert anonymous.mimetype == "application/problem+json"


CHANGE_INTEGRATION = ("/api/integrations/{id}", {"description": "changed"}, 200)
ADD_SHARE = (f"/api/integrations/{{id}}/shares/{SHARE_TARGET}", {"accessLevel": 1}, 201)


@pytest.mark.parametrize(("direct", "team", "change", "allowed"), [
    pytest.param(1, 2, CHANGE_INTEGRATION, True, id="direct1-team2-PUT-integration"),
    pytest.param(2, 1, CHANGE_INTEGRATION, True, id="direct2-team1-PUT-integration"),
    pytest.param(1, 1, CHANGE_INTEGRATION, False, id="direct1-team1-PUT-integration"),
    pytest.param(1, 3, ADD_SHARE, True, id="direct1-team3-PUT-share"),
    pytest.param(3, 2, ADD_SHARE, True, id="direct3-team2-PUT-share"),
    pytest.param(2, 1, ADD_SHARE, False, id="direct2-team1-PUT-share"),
])
def test_effective_level_is_the_highest_matching_share(client, session, make_caller,
                                                       make_integration, direct, team, change,
                                                       allowed):
    """A direct share and a team share: whichever is higher counts, in either order."""
    caller = make_caller("dana")
    factories.team(session, "crew", members=["dana"])
    session.commit()
    integration_id = make_integration(NAME, shares={"dana": direct, "team:crew": team}, **VALUES)
    path, body, success = change

    answer = client.put(path.format(id=integration_id), headers=caller.headers, json=body)

    assert answer.status_code == (success if allowed else 403), answer.get_data(as_text=True)


def test_highest_of_several_team_shares_counts(client, session, make_caller, make_integration):
    """A member of two teams gets the higher of the two teams' levels."""
    caller = make_caller("dana")
    factories.team(session, "crew", members=["dana"])
    factories.team(session, "leads", members=["dana"])
    session.commit()
    integration_id = make_integration(NAME, shares={"team:crew": 1, "team:leads": 2}, **VALUES)

    answer = client.patch(f"/api/integrations/{integration_id}", headers=caller.headers,
                          json={"description": "changed"})

    assert answer.status_code == 200
    assert answer.get_json()["description"] == "changed"
