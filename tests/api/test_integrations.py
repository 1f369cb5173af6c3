"""Integrations: create, read, update, delete, copy, slugs, validation and secrets."""

import uuid

import pytest
from sqlalchemy import func, select, text

from integration_hub.db.models import Integration

OAUTH = {"name": "GitHub Engineering", "type": "github", "authType": "oauth2",
         "authUri": "https://github.com/login/oauth/authorize",
         "tokenUri": "https://github.com/login/oauth/access_token",
         "apiBaseUri": "https://api.github.com", "clientId": "gh-client",
         "clientSecret": "gh-secret-value-123", "scope": "repo read:user",
         "headers": {"X-Requested-By": "${user.email}"}, "data": {"pkce": True}}


def create(client, caller, **overrides):
    answer = client.post("/api/integrations", headers=caller.headers, json={**OAUTH, **overrides})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(Integration))


def test_create_returns_the_integration_without_secrets(client, admin):
    answer = client.post("/api/integrations", headers=admin.headers, json=OAUTH)

    assert answer.status_code == 201
    body = answer.get_json()
    assert answer.headers["Location"] == f"/api/integrations/{body['id']}"
    assert uuid.UUID(body["id"])
    assert body["slug"] == "github-engineering"
    assert body["hasClientSecret"] is True and body["hasApiKey"] is False
    assert body["hasCredentials"] is False
    assert "clientSecret" not in body and "gh-secret-value-123" not in answer.get_data(as_text=True)
    assert body["ownerId"] == "root"
    assert body["mode"] == "per-user" and body["enabled"] is True and body["embedded"] is False
    assert body["headers"] == OAUTH["headers"] and body["data"] == {"pkce": True}
    assert body["_links"]["inf:integration-share"] == {
        "href": f"/api/integrations/{body['id']}/shares/{{principalId}}", "templated": True}
    assert client.get(f"/api/integrations/{body['slug']}", headers=admin.headers).get_json() == body


def test_secrets_are_encrypted_at_rest(client, session, admin):
    created = create(client, admin, apiKey="api-key-plain-456",
                     credentials={"password": "db-password-789"})

    row = session.execute(text("SELECT * FROM integrations WHERE id = :id"),
                          {"id": created["id"]}).one()
    stored = " ".join(map(str, row))
    for secret in ("gh-secret-value-123", "api-key-plain-456", "db-password-789"):
        assert secret not in stored
    assert row.client_secret_encrypted.startswith("gAAAA")


def test_auth_type_is_case_insensitive_and_stored_lower_case(client, admin):
    created = create(client, admin, authType="apiKey", name="Key API", apiKey="k")
    assert created["authType"] == "apikey"
    listed = client.get("/api/integrations?authType=APIKEY", headers=admin.headers).get_json()
    assert [i["id"] for i in listed["_embedded"]["inf:integration"]] == [created["id"]]


def test_given_uuid_is_used_and_reused_uuid_is_409(client, admin):
    given = str(uuid.uuid4())
    assert create(client, admin, id=given)["id"] == given
    again = client.post("/api/integrations", headers=admin.headers, json={**OAUTH, "id": given})
    assert again.status_code == 409


def test_slugs_are_unique_per_tenant(client, admin, make_caller):
    first, second, third = (create(client, admin) for _ in range(3))
    assert [first["slug"], second["slug"], third["slug"]] == [
        "github-engineering", "github-engineering-2", "github-engineering-3"]

    duplicate = client.post("/api/integrations", headers=admin.headers,
                            json={**OAUTH, "slug": "github-engineering"})
    assert duplicate.status_code == 422 and "slug" in duplicate.get_json()["errors"]
    renamed = client.put(f"/api/integrations/{third['id']}", headers=admin.headers,
                         json={"slug": "gh"})
    assert renamed.get_json()["slug"] == "gh"
    clash = client.put(f"/api/integrations/{second['id']}", headers=admin.headers,
                       json={"slug": "gh"})
    assert clash.status_code == 422

    elsewhere = make_caller("boss", tenant="other", superuser=True)
    assert create(client, elsewhere)["slug"] == "github-engineering"


@pytest.mark.parametrize("body, field", [
    ({"authUri": "ftp://x.example/auth"}, "authUri"),
    ({"tokenUri": "/relative"}, "tokenUri"),
    ({"apiBaseUri": "https://user:pw@api.example.com"}, "apiBaseUri"),
    ({"revocationUri": "not a url"}, "revocationUri"),
    ({"headers": {"Bad Name": "x"}}, "headers"),
    ({"headers": {"Host": "evil.example"}}, "headers"),
    ({"headers": {"Authorization": "Bearer mine"}}, "headers"),
    ({"headers": {"X-Ok": "a\r\nX-Injected: 1"}}, "headers"),
    ({"headers": {"X-Ok": 5}}, "headers"),
    ({"authType": "kerberos"}, "authType"),
    ({"mode": "everyone"}, "mode"),
    ({"apiKeyLocation": "cookie"}, "apiKeyLocation"),
    ({"clientId": None}, "clientId"),
    ({"authUri": None}, "authUri"),
    ({"name": ""}, "name"),
    ({"name": "x" * 129}, "name"),
    ({"name": None}, "name"),
    ({"type": None}, "type"),
    ({"type": "Has Spaces"}, "type"),
    ({"id": "not-a-uuid"}, "id"),
    ({"slug": "Not A Slug"}, "slug"),
    ({"slug": str(uuid.uuid4())}, "slug"),
    ({"ownerId": "mallory"}, "ownerId"),
    ({"createdAt": "2020-01-01T00:00:00Z"}, "createdAt"),
    ({"hasClientSecret": False}, "hasClientSecret"),
    ({"supportsUpload": True}, "supportsUpload"),
    ({"somethingElse": 1}, "somethingElse"),
    ({"data": ["not", "an", "object"]}, "data"),
])
def test_invalid_create_is_422_and_stores_nothing(client, session, admin, body, field):
    answer = client.post("/api/integrations", headers=admin.headers, json={**OAUTH, **body})

    assert answer.status_code == 422, answer.get_data(as_text=True)
    problem = answer.get_json()
    assert answer.mimetype == "application/problem+json"
    assert problem["code"] == "validation_failed"
    assert field in problem["errors"]
    assert count(session) == 0


def test_name_and_type_are_required(client, session, admin):
    answer = client.post("/api/integrations", headers=admin.headers, json={"authType": "none"})
    assert answer.status_code == 422
    assert set(answer.get_json()["errors"]) == {"name", "type"}
    assert count(session) == 0


def test_api_key_header_cannot_be_overridden_by_configured_headers(client, admin):
    answer = client.post("/api/integrations", headers=admin.headers, json={
        "name": "Key", "type": "custom", "authType": "apikey", "apiKeyName": "X-Token",
        "headers": {"x-token": "${user.username}"}})
    assert answer.status_code == 422 and "headers" in answer.get_json()["errors"]


def test_invalid_update_changes_nothing(client, admin):
    created = create(client, admin)
    before = client.get(f"/api/integrations/{created['id']}", headers=admin.headers).get_json()

    for body in ({"name": "New", "tokenUri": "nope"}, {"description": "x", "headers": {"Host": "h"}},
                 {"name": "New", "authType": "oauth2", "clientId": None}, {"id": str(uuid.uuid4())},
                 {"copyFrom": created["id"]}):
        answer = client.put(f"/api/integrations/{created['id']}", headers=admin.headers, json=body)
        assert answer.status_code == 422, body

    assert client.get(f"/api/integrations/{created['id']}", headers=admin.headers).get_json() == before


def test_put_keeps_omitted_fields_and_secrets_null_clears(client, admin):
    created = create(client, admin, apiKey="k1", description="original")
    path = f"/api/integrations/{created['id']}"

    changed = client.put(path, headers=admin.headers, json={"scope": "repo"}).get_json()
    assert changed["scope"] == "repo"
    assert changed["description"] == "original" and changed["hasClientSecret"] is True
    assert changed["hasApiKey"] is True

    cleared = client.patch(path, headers=admin.headers,
                           json={"apiKey": None, "description": None, "scope": None}).get_json()
    assert cleared["hasApiKey"] is False and cleared["hasClientSecret"] is True
    assert cleared["description"] == "" and cleared["scope"] is None

    switched = client.put(path, headers=admin.headers,
                          json={"authType": "none", "clientId": None}).get_json()
    assert switched["authType"] == "none" and switched["clientId"] is None


def test_copy_from_copies_configuration_and_secrets(client, session, admin):
    source = create(client, admin, apiKey="copied-key", credentials={"password": "pw"})

    copy = client.post("/api/integrations", headers=admin.headers,
                       json={"copyFrom": source["slug"], "description": "the copy"})

    assert copy.status_code == 201, copy.get_data(as_text=True)
    body = copy.get_json()
    assert body["id"] != source["id"] and body["slug"] != source["slug"]
    assert body["name"] == "GitHub Engineering (copy)"
    assert body["description"] == "the copy"
    for field in ("type", "authType", "authUri", "tokenUri", "apiBaseUri", "clientId", "scope",
                  "headers", "data"):
        assert body[field] == source[field], field
    assert body["hasClientSecret"] and body["hasApiKey"] and body["hasCredentials"]
    assert client.post("/api/integrations", headers=admin.headers,
                       json={"copyFrom": "no-such-integration"}).status_code == 404


def test_copy_from_needs_read_access_to_the_source(client, admin, make_caller, make_integration):
    creator = make_caller("maker", permissions=["integrations.create"])
    hidden = make_integration("Hidden", apiKey="k")

    answer = client.post("/api/integrations", headers=creator.headers, json={"copyFrom": hidden})
    assert answer.status_code == 404


def test_create_needs_the_permission(client, member, make_caller):
    assert client.post("/api/integrations", headers=member.headers,
                       json={**OAUTH}).status_code == 403
    creator = make_caller("maker", permissions=["integrations.create"])
    created = create(client, creator)
    assert created["ownerId"] == "maker"


def test_delete(client, admin):
    created = create(client, admin)
    assert client.delete(f"/api/integrations/{created['slug']}", headers=admin.headers).status_code == 204
    assert client.get(f"/api/integrations/{created['id']}", headers=admin.headers).status_code == 404
    assert client.delete(f"/api/integrations/{created['id']}", headers=admin.headers).status_code == 404


def test_item_etag_and_if_match(client, admin):
    created = create(client, admin)
    path = f"/api/integrations/{created['id']}"
    first = client.get(path, headers=admin.headers)
    assert client.get(path, headers={**admin.headers, "If-None-Match": first.headers["ETag"]}
                      ).status_code == 304

    client.put(path, headers=admin.headers, json={"description": "someone else"})

    stale = client.put(path, headers={**admin.headers, "If-Match": first.headers["ETag"]},
                       json={"description": "mine"})
    assert stale.status_code == 412
    assert client.get(path, headers=admin.headers).get_json()["description"] == "someone else"
    assert client.delete(path, headers={**admin.headers, "If-Match": first.headers["ETag"]}
                         ).status_code == 412
