"""Users: everyone in a tenant reads principals, administrators change them."""

from werkzeug.security import check_password_hash

from integration_hub.db.models import User


def test_me_describes_the_caller_with_teams(client, session, member):
    from tests import factories

    factories.team(session, "eng", members=[{"username": member.username, "role": "admin"}])
    session.commit()

    me = client.get("/api/me", headers=member.headers).get_json()

    assert me["username"] == "mia"
    assert me["displayName"] == "Mia Member"
    assert me["type"] == "user"
    assert me["teams"] == [{"id": "team:eng", "name": "Eng", "role": "admin"}]
    assert me["_links"]["inf:tokens"]["href"] == "/api/tokens"
    assert "password" not in me and "passwordHash" not in me


def test_admin_creates_a_user_with_fields_and_permissions(client, session, admin):
    answer = client.post("/api/users", headers=admin.headers, json={
        "username": "carol", "displayName": "Carol", "email": "carol@example.com",
        "fields": {"region": "eu", "costCentre": 42}, "permissions": ["integrations.create"],
        "password": "correct horse battery"})

    assert answer.status_code == 201
    assert answer.headers["Location"] == "/api/users/carol"
    body = answer.get_json()
    assert body["fields"] == {"region": "eu", "costCentre": 42}
    assert body["permissions"] == ["integrations.create"]
    assert body["hasPassword"] is True
    assert "password" not in body
    stored = session.query(User).filter_by(username="carol").one()
    assert stored.password_hash != "correct horse battery"
    assert check_password_hash(stored.password_hash, "correct horse battery")
    assert client.get("/api/users/carol", headers=admin.headers).get_json() == body


def test_non_admin_cannot_create_change_or_delete_users(client, admin, member):
    assert client.post("/api/users", headers=member.headers,
                       json={"username": "x"}).status_code == 403
    assert client.put("/api/users/root", headers=member.headers,
                      json={"displayName": "pwned"}).status_code == 403
    assert client.delete("/api/users/root", headers=member.headers).status_code == 403
    assert client.get("/api/users/root", headers=admin.headers).get_json()["displayName"] == "Root Admin"


def test_put_keeps_omitted_fields_and_null_password_clears(client, admin):
    client.post("/api/users", headers=admin.headers, json={
        "username": "dave", "email": "dave@example.com", "password": "long enough pw",
        "fields": {"a": 1}})

    answer = client.put("/api/users/dave", headers=admin.headers,
                        json={"displayName": "Dave", "password": None})

    body = answer.get_json()
    assert answer.status_code == 200
    assert body["displayName"] == "Dave"
    assert body["email"] == "dave@example.com"
    assert body["fields"] == {"a": 1}
    assert body["hasPassword"] is False


def test_user_validation(client, admin):
    cases = [
        ({"username": "team:x"}, "username"),
        ({"username": ""}, "username"),
        ({"username": "ok", "email": "not-an-email"}, "email"),
        ({"username": "ok", "password": "short"}, "password"),
        ({"username": "ok", "superuser": "maybe"}, "superuser"),
        ({"username": "ok", "id": 7}, "id"),
        ({"username": "ok", "createdAt": "2020-01-01T00:00:00Z"}, "createdAt"),
        ({}, "username"),
    ]
    for body, field in cases:
        answer = client.post("/api/users", headers=admin.headers, json=body)
        assert answer.status_code == 422, body
        problem = answer.get_json()
        assert problem["code"] == "validation_failed"
        assert field in problem["errors"], (body, problem)


def test_duplicate_username_is_409(client, admin):
    assert client.post("/api/users", headers=admin.headers, json={"username": "eve"}).status_code == 201
    answer = client.post("/api/users", headers=admin.headers, json={"username": "eve"})
    assert answer.status_code == 409
    assert answer.get_json()["code"] == "already_exists"


def test_delete_user_removes_tokens_and_memberships(client, session, admin, make_caller):
    from tests import factories

    gone = make_caller("gone")
    factories.team(session, "ops", members=["gone"])
    session.commit()

    assert client.delete("/api/users/gone", headers=admin.headers).status_code == 204
    assert client.get("/api/me", headers=gone.headers).status_code == 401
    assert client.get("/api/teams/team:ops", headers=admin.headers).get_json()["members"] == []
    assert client.get("/api/users/gone", headers=admin.headers).status_code == 404


def test_admin_cannot_delete_or_demote_themself(client, admin):
    assert client.delete("/api/users/root", headers=admin.headers).get_json()["code"] == \
        "cannot_delete_self"
    assert client.put("/api/users/root", headers=admin.headers,
                      json={"superuser": False}).status_code == 409


def test_users_are_searchable_and_paged(client, session, admin):
    from tests import factories

    for name in ("ann", "anna", "bert"):
        factories.user(session, name, display_name=name.title())
    session.commit()

    page = client.get("/api/users?q=ann&limit=1", headers=admin.headers).get_json()

    assert page["total"] == 2 and page["count"] == 1
    assert [u["username"] for u in page["_embedded"]["inf:user"]] == ["ann"]
    assert page["_links"]["next"]["href"] == "/api/users?q=ann&start=1&limit=1"
    assert page["_embedded"]["inf:user"][0]["_links"]["self"]["href"] == "/api/users/ann"
