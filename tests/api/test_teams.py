"""Teams and members."""


def test_admin_creates_team_with_members(client, admin, member):
    answer = client.post("/api/teams", headers=admin.headers, json={
        "id": "team:eng", "name": "Engineering", "description": "Builders",
        "members": [{"username": "mia", "role": "admin"}]})

    assert answer.status_code == 201
    assert answer.headers["Location"] == "/api/teams/team%3Aeng"  # ":" encoded, as all but
    # unreserved characters of a segment built from data (docs/api-conventions.md, "Links")
    team = answer.get_json()
    assert team["id"] == "team:eng"
    assert team["type"] == "team"
    assert team["members"] == [{"username": "mia", "displayName": "Mia Member", "role": "admin"}]
    assert team["_links"]["inf:team-member"] == {
        "href": "/api/teams/team%3Aeng/members/{username}", "templated": True}
    assert client.get("/api/teams/eng", headers=member.headers).get_json()["id"] == "team:eng"


def test_team_members_are_managed_by_admins_and_team_admins(client, admin, member, make_caller):
    outsider = make_caller("otto")
    client.post("/api/teams", headers=admin.headers, json={
        "id": "ops", "name": "Ops", "members": [{"username": "mia", "role": "admin"}]})
    # Only those who may manage members are offered the member link (docs/api-conventions.md, "Affordances").
    offered = {caller.username: "inf:team-member" in client.get(
                   "/api/teams/team:ops", headers=caller.headers).get_json()["_links"]
               for caller in (admin, member, outsider)}
    assert offered == {"root": True, "mia": True, "otto": False}

    assert client.put("/api/teams/team:ops/members/otto", headers=outsider.headers,
                      json={}).status_code == 403
    added = client.put("/api/teams/team:ops/members/otto", headers=member.headers,
                       json={"role": "member"})
    assert added.status_code == 200
    assert {m["username"] for m in added.get_json()["members"]} == {"mia", "otto"}
    promoted = client.put("/api/teams/team:ops/members/otto", headers=admin.headers,
                          json={"role": "admin"}).get_json()
    assert {m["username"]: m["role"] for m in promoted["members"]}["otto"] == "admin"
    assert client.delete("/api/teams/team:ops/members/otto", headers=member.headers).status_code == 204
    assert [m["username"] for m in client.get("/api/teams/team:ops", headers=admin.headers)
            .get_json()["members"]] == ["mia"]


def test_member_errors(client, admin):
    client.post("/api/teams", headers=admin.headers, json={"id": "qa", "name": "QA"})

    unknown_user = client.put("/api/teams/team:qa/members/nobody", headers=admin.headers, json={})
    assert unknown_user.status_code == 404 and unknown_user.get_json()["code"] == "user_not_found"
    bad_role = client.put("/api/teams/team:qa/members/root", headers=admin.headers,
                          json={"role": "owner"})
    assert bad_role.status_code == 422
    unknown_team = client.put("/api/teams/team:nope/members/root", headers=admin.headers, json={})
    assert unknown_team.get_json()["code"] == "team_not_found"
    not_member = client.delete("/api/teams/team:qa/members/root", headers=admin.headers)
    assert not_member.status_code == 404


def test_team_update_delete_and_permissions(client, admin, member):
    client.post("/api/teams", headers=admin.headers, json={"id": "team:web", "name": "Web"})

    assert client.post("/api/teams", headers=member.headers,
                       json={"id": "x", "name": "X"}).status_code == 403
    assert client.put("/api/teams/team:web", headers=member.headers,
                      json={"name": "Hijack"}).status_code == 403
    renamed = client.put("/api/teams/team:web", headers=admin.headers, json={"name": "Website"})
    assert renamed.get_json()["name"] == "Website"
    assert client.put("/api/teams/team:web", headers=admin.headers,
                      json={"members": []}).status_code == 422
    assert client.delete("/api/teams/team:web", headers=member.headers).status_code == 403
    assert client.delete("/api/teams/team:web", headers=admin.headers).status_code == 204
    assert client.get("/api/teams/team:web", headers=admin.headers).status_code == 404


def test_team_id_validation_and_duplicates(client, admin):
    assert client.post("/api/teams", headers=admin.headers,
                       json={"id": "team:Bad Slug", "name": "x"}).status_code == 422
    assert client.post("/api/teams", headers=admin.headers, json={"id": "a", "name": "A"}).status_code == 201
    assert client.post("/api/teams", headers=admin.headers,
                       json={"id": "team:a", "name": "A"}).status_code == 409
