"""PATCH of an integration merges ``data`` and ``headers`` (a JSON merge patch, RFC 7396);
PUT replaces them (docs/api-conventions.md, "Changing a resource: PUT and PATCH")."""

from __future__ import annotations

import pytest

from tests.api.test_integrations import create

DATA = {"pkce": True, "timeout": 20, "authParams": {"prompt": "consent", "access_type": "offline"},
        "scopes": ["a", "b"]}
HEADERS = {"X-Requested-By": "${user.email}", "X-Team": "core"}


@pytest.fixture
def integration(client, admin) -> str:
    return create(client, admin, data=DATA, headers=HEADERS)["id"]


def test_patch_merges_data_member_by_member(client, admin, integration):
    answer = client.patch(f"/api/integrations/{integration}", headers=admin.headers, json={
        "data": {"timeout": None, "authParams": {"prompt": None, "login_hint": "x"},
                 "scopes": ["c"], "retries": 2}})

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["data"] == {
        "pkce": True, "authParams": {"access_type": "offline", "login_hint": "x"},
        "scopes": ["c"], "retries": 2}
    stored = client.get(f"/api/integrations/{integration}", headers=admin.headers).get_json()
    assert stored["data"] == answer.get_json()["data"]


def test_patch_merges_headers_and_null_removes_one(client, admin, integration):
    answer = client.patch(f"/api/integrations/{integration}", headers=admin.headers,
                          json={"headers": {"X-Team": None, "X-Tenant": "${tenant.id}"}})

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["headers"] == {"X-Requested-By": "${user.email}",
                                            "X-Tenant": "${tenant.id}"}


def test_patch_keeps_what_it_does_not_name(client, admin, integration):
    answer = client.patch(f"/api/integrations/{integration}", headers=admin.headers,
                          json={"description": "changed"})

    body = answer.get_json()
    assert body["description"] == "changed"
    assert body["data"] == DATA and body["headers"] == HEADERS


def test_a_null_field_still_clears_it(client, admin, integration):
    answer = client.patch(f"/api/integrations/{integration}", headers=admin.headers,
                          json={"data": None, "headers": None})

    assert answer.status_code == 200
    assert answer.get_json()["data"] == {} and answer.get_json()["headers"] == {}


def test_put_still_replaces_data_and_headers(client, admin, integration):
    answer = client.put(f"/api/integrations/{integration}", headers=admin.headers,
                        json={"data": {"timeout": 5}, "headers": {"X-Only": "1"}})

    assert answer.get_json()["data"] == {"timeout": 5}
    assert answer.get_json()["headers"] == {"X-Only": "1"}


def test_put_refuses_a_null_header_value(client, admin, integration):
    answer = client.put(f"/api/integrations/{integration}", headers=admin.headers,
                        json={"headers": {"X-Team": None}})

    assert answer.status_code == 422
    assert answer.get_json()["code"] == "validation_failed"


def test_the_merge_patch_media_type_is_accepted(client, admin, integration):
    answer = client.patch(f"/api/integrations/{integration}",
                          headers={**admin.headers, "Content-Type": "application/merge-patch+json"},
                          data=b'{"data": {"pkce": null}}')

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert "pkce" not in answer.get_json()["data"]


def test_the_merged_result_is_checked_as_a_put_of_it_would_be(client, admin, integration):
    """A header the hub sets itself is refused whether PUT names it or PATCH merges it in,
    and nothing is written."""
    before = client.get(f"/api/integrations/{integration}", headers=admin.headers).get_json()

    answer = client.patch(f"/api/integrations/{integration}", headers=admin.headers,
                          json={"headers": {"Host": "elsewhere.example"}})

    assert answer.status_code == 422
    after = client.get(f"/api/integrations/{integration}", headers=admin.headers).get_json()
    assert after == before


def test_patch_honours_if_match(client, admin, integration):
    path = f"/api/integrations/{integration}"
    etag = client.get(path, headers=admin.headers).headers["ETag"]
    client.patch(path, headers=admin.headers, json={"description": "moved on"})

    stale = client.patch(path, headers={**admin.headers, "If-Match": etag},
                         json={"data": {"timeout": None}})

    assert stale.status_code == 412
    assert client.get(path, headers=admin.headers).get_json()["data"] == DATA

