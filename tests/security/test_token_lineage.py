"""A token made with a token never outlives it (docs/security.md, "API tokens: lineage and
scopes").

A token that creates a token through ``POST /api/tokens`` is its parent: the child's expiry
is at most the parent's (clamped, and the answer says the effective one), and revoking the
parent revokes the child and everything the child made in turn. Tokens made by a browser
session or on the command line have no parent.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from integration_hub.db.types import utcnow
from tests.support.problems import assert_problem


def bearer(plain: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plain}"}


def create(client, headers: dict[str, str], **body) -> dict:
    answer = client.post("/api/tokens", headers=headers, json=body)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()


def works(client, plain: str) -> bool:
    answer = client.get("/api/me", headers=bearer(plain))
    if answer.status_code == 401:
        assert_problem(answer, 401, "invalid_token")
        return False
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return True


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_child_without_expiry_expires_with_its_parent(client, member):
    parent = create(client, member.headers, name="ci", expiresAt=iso(utcnow() + timedelta(days=1)))

    child = create(client, bearer(parent["token"]), name="forever")
    later = create(client, bearer(parent["token"]), name="later",
                   expiresAt=iso(utcnow() + timedelta(days=30)))
    sooner_at = utcnow() + timedelta(hours=1)
    sooner = create(client, bearer(parent["token"]), name="sooner", expiresAt=iso(sooner_at))

    assert child["expiresAt"] is not None
    assert instant(child["expiresAt"]) == instant(parent["expiresAt"])
    assert instant(later["expiresAt"]) == instant(parent["expiresAt"])
    assert instant(sooner["expiresAt"]) == sooner_at
    listed = {t["id"]: t for t in client.get("/api/tokens?limit=500", headers=member.headers)
              .get_json()["_embedded"]["inf:token"]}
    assert instant(listed[child["id"]]["expiresAt"]) == instant(parent["expiresAt"])
    assert listed[child["id"]]["parentId"] == parent["id"]
    # the parent was made with the member's own token, made on the hub's side (no parent)
    first = next(t for t in listed.values() if t["name"] == "test")
    assert listed[parent["id"]]["parentId"] == first["id"] and first["parentId"] is None


def test_a_grandchild_expires_with_the_first_token_of_its_line(client, member):
    parent = create(client, member.headers, expiresAt=iso(utcnow() + timedelta(days=2)))
    child = create(client, bearer(parent["token"]))
    grandchild = create(client, bearer(child["token"]),
                        expiresAt=iso(utcnow() + timedelta(days=365)))

    assert instant(grandchild["expiresAt"]) == instant(parent["expiresAt"])
    assert grandchild["parentId"] == child["id"]


def test_children_stop_working_when_their_parent_expires(client, member):
    """Real time passes: the parent is made to expire a few seconds from now."""
    ends = utcnow() + timedelta(seconds=4)
    parent = create(client, member.headers, expiresAt=iso(ends))
    child = create(client, bearer(parent["token"]))
    grandchild = create(client, bearer(child["token"]))
    assert works(client, child["token"]) and works(client, grandchild["token"])

    time.sleep(max(0.0, (ends - utcnow()).total_seconds()) + 0.2)

    assert not works(client, parent["token"])
    assert not works(client, child["token"])
    assert not works(client, grandchild["token"])
    assert works(client, member.token)  # the user's other token is not in this line


def test_revoking_a_token_revokes_every_token_it_made(client, member):
    parent = create(client, member.headers, name="parent")
    child = create(client, bearer(parent["token"]), name="child")
    grandchild = create(client, bearer(child["token"]), name="grandchild")
    sibling = create(client, member.headers, name="sibling")  # made by the same user, not by parent
    assert all(works(client, t["token"]) for t in (parent, child, grandchild, sibling))

    revoked = client.delete(f"/api/tokens/{parent['id']}", headers=member.headers)

    assert revoked.status_code == 204
    assert not works(client, parent["token"])
    assert not works(client, child["token"])
    assert not works(client, grandchild["token"])
    assert works(client, sibling["token"])
    listed = client.get("/api/tokens?limit=500", headers=member.headers).get_json()
    ids = {t["id"] for t in listed["_embedded"]["inf:token"]}
    assert ids.isdisjoint({parent["id"], child["id"], grandchild["id"]})
    assert sibling["id"] in ids
    for gone in (child, grandchild):
        assert client.get(f"/api/tokens/{gone['id']}", headers=member.headers).status_code == 404


def test_revoking_a_child_leaves_its_parent(client, member):
    parent = create(client, member.headers)
    child = create(client, bearer(parent["token"]))

    assert client.delete(f"/api/tokens/{child['id']}",
                         headers=bearer(parent["token"])).status_code == 204

    assert not works(client, child["token"])
    assert works(client, parent["token"])


def test_a_token_that_revokes_its_own_parent_ends_itself(client, member):
    parent = create(client, member.headers)
    child = create(client, bearer(parent["token"]))

    assert client.delete(f"/api/tokens/{parent['id']}",
                         headers=bearer(child["token"])).status_code == 204

    assert not works(client, parent["token"])
    assert not works(client, child["token"])


def test_session_made_tokens_have_no_parent_and_keep_their_expiry(client, session):
    from tests import factories

    factories.user(session, "sam", password="a good long password")
    session.commit()
    signed_in = client.post("/api/login", json={"username": "sam",
                                                "password": "a good long password"})
    csrf = {"X-CSRF-Token": signed_in.get_json()["csrfToken"]}

    forever = client.post("/api/tokens", headers=csrf, json={"name": "browser"}).get_json()

    assert forever["parentId"] is None and forever["expiresAt"] is None
    child = create(client, bearer(forever["token"]))
    assert child["parentId"] == forever["id"] and child["expiresAt"] is None


def test_a_line_of_tokens_has_an_end_and_goes_at_once(client, member, admin):
    """Each token could make the next for ever; the database would then have to cascade a
    revocation down an unbounded line (SQLite stops at 1000 levels, and the first token
    could no longer be revoked). A line holds at most MAX_LINEAGE tokens."""
    from integration_hub.identity.tokens import MAX_LINEAGE

    line = [create(client, member.headers, name="line 2")]  # the member's token is the first
    while len(line) < MAX_LINEAGE - 1:
        line.append(create(client, bearer(line[-1]["token"]), name=f"line {len(line) + 2}"))
    before = len(client.get("/api/tokens?limit=500", headers=member.headers)
                 .get_json()["_embedded"]["inf:token"])

    too_far = client.post("/api/tokens", headers=bearer(line[-1]["token"]), json={})

    assert_problem(too_far, 422, "token_lineage_too_deep")
    assert works(client, line[-1]["token"])
    listed = client.get("/api/tokens?limit=500", headers=member.headers).get_json()
    assert len(listed["_embedded"]["inf:token"]) == before
    assert client.delete(f"/api/tokens/{line[0]['id']}", headers=member.headers).status_code == 204
    assert not any(works(client, t["token"]) for t in line)
    audit = client.get("/api/audit", headers=admin.headers, query_string={
        "action": "token.delete", "targetId": line[0]["id"]}).get_json()
    [entry] = audit["_embedded"]["inf:audit-entry"]
    assert entry["detail"] == {"descendants": len(line) - 1}
