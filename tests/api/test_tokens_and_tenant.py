"""API tokens (shown once, stored as digests) and the tenant resource."""

from sqlalchemy import text

from integration_hub.identity.tokens import hash_token


def test_token_is_shown_once_and_only_its_digest_is_stored(client, session, member):
    created = client.post("/api/tokens", headers=member.headers, json={"name": "ci"})

    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    body = created.get_json()
    plain = body["token"]
    assert plain.startswith("ihub_")
    assert body["prefix"] == plain[:11]
    assert created.headers["Location"] == f"/api/tokens/{body['id']}"

    listed = client.get("/api/tokens", headers=member.headers).get_data(as_text=True)
    one = client.get(f"/api/tokens/{body['id']}", headers=member.headers).get_data(as_text=True)
    assert plain not in listed and plain not in one
    rows = session.execute(text("SELECT * FROM api_tokens")).all()
    assert rows and all(plain not in " ".join(map(str, row)) for row in rows)
    assert any(hash_token(plain) in row for row in rows)

    works = client.get("/api/me", headers={"Authorization": f"Bearer {plain}"})
    assert works.get_json()["username"] == "mia"


def test_revoked_token_stops_working(client, member):
    created = client.post("/api/tokens", headers=member.headers, json={}).get_json()
    auth = {"Authorization": f"Bearer {created['token']}"}
    assert client.get("/api/me", headers=auth).status_code == 200

    assert client.delete(f"/api/tokens/{created['id']}", headers=member.headers).status_code == 204
    assert client.get("/api/me", headers=auth).status_code == 401


def test_tokens_of_others_are_invisible(client, member, make_caller):
    other = make_caller("olga")
    theirs = client.post("/api/tokens", headers=other.headers, json={}).get_json()

    mine = client.get("/api/tokens", headers=member.headers).get_json()
    assert theirs["id"] not in {t["id"] for t in mine["_embedded"]["inf:token"]}
    assert client.get(f"/api/tokens/{theirs['id']}", headers=member.headers).status_code == 404
    assert client.delete(f"/api/tokens/{theirs['id']}", headers=member.headers).status_code == 404


def test_token_expiry_must_be_future_and_aware(client, member):
    past = client.post("/api/tokens", headers=member.headers,
                       json={"expiresAt": "2001-01-01T00:00:00Z"})
    naive = client.post("/api/tokens", headers=member.headers,
                        json={"expiresAt": "2099-01-01T00:00:00"})
    future = client.post("/api/tokens", headers=member.headers,
                         json={"expiresAt": "2099-01-01T00:00:00Z"})

    assert past.status_code == 422 and "expiresAt" in past.get_json()["errors"]
    assert naive.status_code == 422
    assert future.status_code == 201
    assert future.get_json()["expiresAt"].startswith("2099-01-01T00:00:00")


def test_tenant_is_readable_and_admins_edit_settings(client, admin, member):
    tenant = client.get("/api/tenant", headers=member.headers).get_json()
    assert tenant["id"] == "default"

    assert client.put("/api/tenant", headers=member.headers,
                      json={"settings": {"x": 1}}).status_code == 403
    changed = client.put("/api/tenant", headers=admin.headers,
                         json={"name": "Acme", "settings": {"region": "eu"}})
    assert changed.status_code == 200
    assert changed.get_json()["settings"] == {"region": "eu"}
    assert client.get("/api/tenant", headers=member.headers).get_json()["name"] == "Acme"
    assert client.put("/api/tenant", headers=admin.headers, json={"id": "other"}).status_code == 422


def test_tenants_are_isolated(client, session, admin, make_caller):
    from tests import factories

    stranger = make_caller("stranger", tenant="other", superuser=True)
    factories.team(session, "secret", tenant="other", members=["stranger"])
    session.commit()

    users = client.get("/api/users", headers=admin.headers).get_json()["_embedded"]["inf:user"]
    assert "stranger" not in {u["username"] for u in users}
    assert client.get("/api/users/stranger", headers=admin.headers).status_code == 404
    assert client.get("/api/teams/team:secret", headers=admin.headers).status_code == 404
    assert client.put("/api/teams/team:secret/members/root", headers=admin.headers,
                      json={}).status_code == 404
    assert client.delete("/api/users/root", headers=stranger.headers).status_code == 404
    assert client.get("/api/tenant", headers=stranger.headers).get_json()["id"] == "other"
    their_token = client.post("/api/tokens", headers=stranger.headers, json={}).get_json()["id"]
    assert client.delete(f"/api/tokens/{their_token}", headers=admin.headers).status_code == 404
    teams = client.get("/api/teams", headers=admin.headers).get_json()
    assert teams["total"] == 0
