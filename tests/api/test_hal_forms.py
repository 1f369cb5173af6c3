"""HAL-FORMS: ``Accept: application/prs.hal-forms+json`` adds ``_templates``
for what the caller may do, generated from the schemas the hub validates with.

The flows here are driven by a forms client that knows only ``/api``: every target
comes from a template or a link, every body holds only declared properties.

See docs/api-conventions.md, "Affordances".
"""

from __future__ import annotations

from integration_hub.integrations.rules import MODES
from tests import factories
from tests.support.forms import HAL_FORMS, properties, read, submit, templates

OWNER_TEMPLATES = {"default", "delete", "forceDelete", "transfer", "share", "connect", "request"}


def _entry(client, caller, rel: str) -> str:
    return client.get("/api", headers=caller.headers).get_json()["_links"][rel]["href"]


def _register(client, admin, **values) -> str:
    """Register an integration through the collection's form; answers its address."""
    form = templates(client, admin, _entry(client, admin, "inf:integrations"))["default"]
    answer = submit(client, admin, form, **{"type": "custom", "authType": "apikey",
                                           "apiBaseUri": "https://api.example.net", **values})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.headers["Location"]


def test_an_owner_gets_every_template_generated_from_the_schema(client, admin):
    where = _register(client, admin, name="Ledger", description="Books")

    answer = read(client, admin, where)
    document = answer.get_json()

    assert answer.mimetype == HAL_FORMS and "Accept" in answer.vary
    assert set(document["_templates"]) == OWNER_TEMPLATES
    change = document["_templates"]["default"]
    assert (change["method"], change["target"], change["contentType"]) == (
        "PUT", document["_links"]["self"]["href"], "application/json")
    fields = properties(change)
    assert fields["name"]["value"] == "Ledger" and fields["name"]["maxLength"] == 128
    assert fields["description"]["value"] == "Books"
    assert fields["mode"]["options"] == {"inline": list(MODES), "minItems": 0, "maxItems": 1}
    assert fields["enabled"]["type"] == "checkbox"
    assert fields["apiBaseUri"]["type"] == "url"
    for secret in ("clientSecret", "apiKey"):
        assert fields[secret]["type"] == "password" and "value" not in fields[secret]
    assert fields["credentials"]["type"] == "textarea"  # a JSON object of secrets
    assert "value" not in fields["credentials"]
    assert fields["headers"]["type"] == "textarea"  # a JSON object
    assert "id" not in fields and "createdAt" not in fields  # server-owned
    connect = properties(document["_templates"]["connect"])
    assert connect == {"apiKey": {"name": "apiKey", "type": "password", "required": True}}
    assert properties(document["_templates"]["share"])["principalId"]["required"] is True


def test_plain_hal_stays_plain(client, admin):
    where = _register(client, admin, name="Plain")
    for accept in (None, "*/*", "application/hal+json",
                   f"application/hal+json, {HAL_FORMS}"):  # a tie goes to plain HAL
        headers = {**admin.headers, **({"Accept": accept} if accept else {})}
        answer = client.get(where, headers=headers)
        assert answer.mimetype == "application/hal+json", accept
        assert "_templates" not in answer.get_json(), accept


def test_a_forms_client_shares_connects_and_deletes(client, admin, member):
    where = _register(client, admin, name="Shared Ledger", mode="per-user")
    owner_forms = templates(client, admin, where)

    # Share read-only with the member: the member is offered using it (each user connects
    # their own key), nothing more.
    shared = submit(client, admin, owner_forms["share"], principalId=member.username)
    assert shared.status_code == 201, shared.get_data(as_text=True)
    member_view = read(client, member, where).get_json()
    assert set(member_view["_templates"]) == {"connect", "request"}
    assert "inf:integration-share" not in member_view["_links"]
    shares = member_view["_links"]["inf:integration-shares"]["href"]
    assert templates(client, member, shares) == {}
    share_href = client.get(shares, headers=member.headers).get_json()[
        "_embedded"]["inf:integration-share"][0]["_links"]["self"]["href"]
    assert templates(client, member, share_href) == {}

    # The owner raises the share to write through the share's own form.
    level = templates(client, admin, share_href)["default"]
    assert properties(level)["accessLevel"] == {
        "name": "accessLevel", "type": "number", "min": 1, "max": 3, "value": 1,
        "prompt": "1 read/use, 2 write, 3 share"}
    assert submit(client, admin, level, accessLevel=2).status_code == 200
    assert set(templates(client, member, where)) == {"default", "connect", "request"}

    # The member connects with their key, so the integration is in use.
    connect = templates(client, member, where)["connect"]
    assert submit(client, member, connect, apiKey="member-key-7f3c9a").status_code == 201

    refused = submit(client, admin, owner_forms["delete"])
    assert refused.status_code == 409 and refused.get_json()["code"] == "integration_in_use"
    assert submit(client, admin, owner_forms["forceDelete"]).status_code == 204
    assert client.get(where, headers=admin.headers).status_code == 404


def test_etags_of_forms_answers(client, admin):
    where = _register(client, admin, name="Tagged")
    plain = client.get(where, headers=admin.headers)
    forms = read(client, admin, where)

    assert forms.headers["ETag"] != plain.headers["ETag"]
    revalidated = client.get(where, headers={**admin.headers, "Accept": HAL_FORMS,
                                             "If-None-Match": forms.headers["ETag"]})
    assert revalidated.status_code == 304
    # The plain answer's tag does not validate the forms answer: its templates may differ.
    assert client.get(where, headers={**admin.headers, "Accept": HAL_FORMS,
                                      "If-None-Match": plain.headers["ETag"]}).status_code == 200

    change = forms.get_json()["_templates"]["default"]
    changed = client.put(change["target"], json={"description": "v2"},
                         headers={**admin.headers, "If-Match": forms.headers["ETag"]})
    assert changed.status_code == 200, changed.get_data(as_text=True)
    stale = client.put(change["target"], json={"description": "v3"},
                       headers={**admin.headers, "If-Match": forms.headers["ETag"]})
    assert stale.status_code == 412


def test_the_collection_offers_registering_only_with_the_permission(client, admin, member):
    entry = _entry(client, member, "inf:integrations")
    assert set(templates(client, member, entry)) == {"provision"}
    create = templates(client, admin, entry)["default"]
    assert {n for n, p in properties(create).items() if p.get("required")} == {"name", "type"}
    assert properties(create)["authType"]["type"] == "text"


def test_tokens_are_created_and_revoked_through_forms(client, member):
    tokens = _entry(client, member, "inf:tokens")
    create = templates(client, member, tokens)["default"]
    assert set(properties(create)) == {"name", "scopes", "expiresAt"}
    assert properties(create)["scopes"]["options"] == {"inline": ["read", "proxy", "admin"],
                                                       "minItems": 1}

    made = submit(client, member, create, name="ci")
    assert made.status_code == 201 and made.mimetype == HAL_FORMS
    revoke = made.get_json()["_templates"]["delete"]
    assert submit(client, member, revoke).status_code == 204
    assert client.get(made.headers["Location"], headers=member.headers).status_code == 404


def test_tag_forms_follow_who_may_change_the_tag(client, admin, member, make_caller):
    tags = _entry(client, member, "inf:tags")
    made = submit(client, member, templates(client, member, tags)["default"], name="Finance",
                  color="#00aa00")
    assert made.status_code == 201
    tag = made.headers["Location"]
    bea = make_caller("bea")

    assert templates(client, bea, tag) == {}  # neither creator nor administrator
    assert set(templates(client, admin, tag)) == {"default", "delete"}
    rename = templates(client, member, tag)["default"]
    assert properties(rename)["name"]["value"] == "Finance"
    assert "regex" in properties(rename)["color"]
    assert submit(client, member, rename, name="Money").get_json()["name"] == "Money"
    assert submit(client, member, templates(client, member, tag)["delete"]).status_code == 204


def test_webhook_forms(client, admin, receiver):
    webhooks = _entry(client, admin, "inf:webhooks")
    create = templates(client, admin, webhooks)["default"]
    fields = properties(create)
    assert fields["secret"]["type"] == "password" and fields["url"]["required"] is True
    assert "*" in fields["events"]["options"]["inline"]

    secret = "whsec-forms-0c1d2e3f4a5b"
    receiver.expect_secret("/forms", secret)
    made = submit(client, admin, create, url=receiver.url("/forms"), events=["*"], secret=secret)
    assert made.status_code == 201, made.get_data(as_text=True)
    forms = made.get_json()["_templates"]
    assert set(forms) == {"default", "delete", "ping"}
    assert properties(forms["default"])["url"]["value"] == receiver.url("/forms")
    assert "value" not in properties(forms["default"])["secret"]
    assert submit(client, admin, forms["default"], enabled=False).get_json()["enabled"] is False
    assert submit(client, admin, forms["delete"]).status_code == 204


def test_a_connection_offers_disconnecting_to_its_holder_only(client, admin, member,
                                                              make_integration):
    integration = make_integration("Keys", shares={member.username: 1}, mode="per-user")
    where = f"/api/integrations/{integration}"
    connect = templates(client, member, where)["connect"]
    made = submit(client, member, connect, apiKey="member-key-99aa11")
    assert made.status_code == 201
    mine = made.get_json()

    assert set(mine["_templates"]) == {"delete"}  # an API key has nothing to refresh
    own = read(client, member, where).get_json()["_links"]["inf:connection"]["href"]
    assert set(templates(client, member, own)) == {"delete"}
    assert "inf:refresh" not in mine["_links"]
    # Its self link is the member's to follow, not only the owner's.
    assert client.get(mine["_links"]["self"]["href"], headers=member.headers).status_code == 200
    # The owner sees it listed, but it is the member's to use and remove: the account,
    # connect and refresh addresses act on the caller's own connection, so none is offered.
    listed = read(client, admin, mine["_links"]["self"]["href"]).get_json()
    assert listed.get("_templates", {}) == {}
    assert set(listed["_links"]) == {"self", "inf:integration"}
    assert {"inf:account", "inf:connect"} <= set(mine["_links"])

    assert submit(client, member, mine["_templates"]["delete"]).status_code == 204
    assert client.get(mine["_links"]["self"]["href"],
                      headers=member.headers).status_code in (403, 404)


def test_a_team_share_is_offered_to_the_team(client, admin, member, session):
    factories.team(session, "writers", members=[member.username])
    session.commit()
    where = _register(client, admin, name="Team Ledger")
    share = templates(client, admin, where)["share"]
    assert submit(client, admin, share, principalId="team:writers",
                  accessLevel=2).status_code == 201
    assert "default" in templates(client, member, where)


def test_sharing_through_the_form_refuses_bad_input_and_writes_nothing(client, admin):
    where = _register(client, admin, name="Careful Ledger")
    share = templates(client, admin, where)["share"]
    shares = client.get(where, headers=admin.headers).get_json()["_links"][
        "inf:integration-shares"]["href"]

    missing = client.post(share["target"], headers=admin.headers, json={"accessLevel": 2})
    unknown = submit(client, admin, share, principalId="nobody-here")
    too_high = submit(client, admin, share, principalId=admin.username, accessLevel=9)

    assert (missing.status_code, missing.get_json()["code"]) == (422, "validation_failed")
    assert "principalId" in missing.get_json()["errors"]
    assert (unknown.status_code, unknown.get_json()["code"]) == (404, "principal_not_found")
    assert (too_high.status_code, too_high.get_json()["code"]) == (422, "validation_failed")
    assert client.get(shares, headers=admin.headers).get_json()["total"] == 0
