"""ETags on GET, 304 for If-None-Match, 412 for a stale If-Match."""

import pytest


@pytest.mark.parametrize("path", ["/api", "/api/me", "/api/users", "/api/users/mia",
                                  "/api/teams", "/api/tokens", "/api/tenant"])
def test_get_has_etag_and_if_none_match_gives_304(client, member, path):
    first = client.get(path, headers=member.headers)
    etag = first.headers["ETag"]

    again = client.get(path, headers={**member.headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag
    other = client.get(path, headers={**member.headers, "If-None-Match": '"something-else"'})
    assert other.status_code == 200


def test_etag_changes_when_the_resource_changes(client, admin):
    before = client.get("/api/tenant", headers=admin.headers).headers["ETag"]
    client.put("/api/tenant", headers=admin.headers, json={"name": "Changed"})
    after = client.get("/api/tenant", headers=admin.headers).headers["ETag"]
    assert before != after


@pytest.mark.parametrize("path, change", [
    ("/api/tenant", {"name": "New name"}),
    ("/api/users/mia", {"displayName": "New name"}),
])
def test_if_match_guards_put(client, admin, member, path, change):
    etag = client.get(path, headers=admin.headers).headers["ETag"]
    client.put(path, headers=admin.headers, json={**change, **{"name" if "tenant" in path else
                                                              "displayName": "Someone else"}})

    stale = client.put(path, headers={**admin.headers, "If-Match": etag}, json=change)
    assert stale.status_code == 412
    assert stale.get_json()["code"] == "precondition_failed"
    fresh_etag = client.get(path, headers=admin.headers).headers["ETag"]
    fresh = client.put(path, headers={**admin.headers, "If-Match": fresh_etag}, json=change)
    assert fresh.status_code == 200
    star = client.put(path, headers={**admin.headers, "If-Match": "*"}, json=change)
    assert star.status_code == 200


def test_if_match_guards_delete(client, admin):
    client.post("/api/teams", headers=admin.headers, json={"id": "t1", "name": "T1"})
    etag = client.get("/api/teams/team:t1", headers=admin.headers).headers["ETag"]
    client.put("/api/teams/team:t1", headers=admin.headers, json={"name": "Renamed"})

    assert client.delete("/api/teams/team:t1",
                         headers={**admin.headers, "If-Match": etag}).status_code == 412
    assert client.get("/api/teams/team:t1", headers=admin.headers).status_code == 200
    etag = client.get("/api/teams/team:t1", headers=admin.headers).headers["ETag"]
    assert client.delete("/api/teams/team:t1",
                         headers={**admin.headers, "If-Match": etag}).status_code == 204
