"""Tags: tenant labels, and tagging integrations (write access)."""

import pytest


def make_tag(client, caller, name="finance", color="#00aa00"):
    answer = client.post("/api/tags", headers=caller.headers, json={"name": name, "color": color})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()


def test_create_list_get_update_delete(client, admin, member):
    created = make_tag(client, member)
    assert created["createdBy"] == "mia"
    assert client.get(created["_links"]["self"]["href"], headers=admin.headers).get_json() == created

    make_tag(client, member, "Alpha")
    page = client.get("/api/tags", headers=admin.headers).get_json()
    assert [t["name"] for t in page["_embedded"]["inf:tag"]] == ["Alpha", "finance"]
    assert client.get("/api/tags?q=FIN", headers=admin.headers).get_json()["total"] == 1

    renamed = client.put(f"/api/tags/{created['id']}", headers=member.headers,
                         json={"name": "Finance", "color": "#fff"})
    assert renamed.get_json()["name"] == "Finance" and renamed.get_json()["color"] == "#fff"
    assert client.delete(f"/api/tags/{created['id']}", headers=member.headers).status_code == 204
    assert client.get(f"/api/tags/{created['id']}", headers=admin.headers).status_code == 404


def test_duplicate_names_are_409_ignoring_case(client, admin, member):
    first = make_tag(client, admin, "Ops")
    duplicate = client.post("/api/tags", headers=member.headers, json={"name": "ops"})
    assert duplicate.status_code == 409 and duplicate.get_json()["code"] == "already_exists"
    other = make_tag(client, admin, "Dev")
    clash = client.put(f"/api/tags/{other['id']}", headers=admin.headers, json={"name": "OPS"})
    assert clash.status_code == 409
    assert client.put(f"/api/tags/{first['id']}", headers=admin.headers,
                      json={"name": "Ops"}).status_code == 200  # itself is no clash


@pytest.mark.parametrize("body", [{"name": ""}, {"name": "x" * 65}, {"color": "red"},
                                  {"name": "ok", "color": "#12345"}, {"name": "ok", "id": "x"}])
def test_tag_validation(client, admin, body):
    answer = client.post("/api/tags", headers=admin.headers, json=body)
    assert answer.status_code == 422 and answer.get_json()["code"] == "validation_failed"


def test_only_creator_or_admin_change_a_tag(client, admin, member, make_caller):
    tag = make_tag(client, member)
    other = make_caller("otto")
    assert client.put(f"/api/tags/{tag['id']}", headers=other.headers,
                      json={"name": "x"}).status_code == 403
    assert client.delete(f"/api/tags/{tag['id']}", headers=other.headers).status_code == 403
    assert client.put(f"/api/tags/{tag['id']}", headers=admin.headers,
                      json={"color": "#000000"}).status_code == 200


def test_tags_are_tenant_scoped(client, admin, make_caller):
    tag = make_tag(client, admin)
    foreign = make_caller("fred", tenant="other", superuser=True)
    assert client.get(f"/api/tags/{tag['id']}", headers=foreign.headers).status_code == 404
    assert client.get("/api/tags", headers=foreign.headers).get_json()["total"] == 0
    assert client.post("/api/tags", headers=foreign.headers,
                       json={"name": "finance"}).status_code == 201


def test_tagging_integrations(client, admin, member, make_caller, make_integration):
    writer = make_caller("wendy")
    integration = make_integration("Tagged", type="custom", auth_type="none",
                                   shares={"mia": 1, "wendy": 2})
    tag = make_tag(client, admin)
    path = f"/api/integrations/{integration}/tags/{tag['id']}"

    assert client.put(path, headers=member.headers).status_code == 403
    assert client.put(path, headers=writer.headers).status_code == 201
    assert client.put(path, headers=writer.headers).status_code == 200  # already there
    listed = client.get(f"/api/integrations/{integration}/tags", headers=member.headers).get_json()
    assert [t["id"] for t in listed["_embedded"]["inf:tag"]] == [tag["id"]]
    flat = client.get("/api/integrations-list", headers=member.headers).get_json()
    assert flat[0]["tags"] == [tag["id"]]
    by_tag = client.get(tag["_links"]["inf:integrations"]["href"], headers=member.headers)
    assert by_tag.get_json()["total"] == 1

    assert client.delete(path, headers=member.headers).status_code == 403
    assert client.delete(path, headers=writer.headers).status_code == 204
    assert client.delete(path, headers=writer.headers).status_code == 404
    assert client.put(f"/api/integrations/{integration}/tags/no-such-tag",
                      headers=writer.headers).get_json()["code"] == "tag_not_found"


def test_deleting_a_tag_untags_integrations(client, admin, make_integration):
    integration = make_integration("Tagged", type="custom", auth_type="none")
    tag = make_tag(client, admin)
    client.put(f"/api/integrations/{integration}/tags/{tag['id']}", headers=admin.headers)
    client.delete(f"/api/tags/{tag['id']}", headers=admin.headers)
    listed = client.get(f"/api/integrations/{integration}/tags", headers=admin.headers).get_json()
    assert listed["total"] == 0
