"""A user cannot grow the audit log without bound by being refused (docs/security.md, "Logs
that grow"). Refused or failed attempts repeated within the hour share one entry whose
``count`` says how often; an actor probing ever new targets gets a bounded number of entries,
the rest counted on one entry per action. Administrators see every count."""

from __future__ import annotations

from sqlalchemy import func, select

from integration_hub.audit import entries as audit
from integration_hub.db.models import AuditEntry

ATTEMPTS = 500


def audit_entries(client, admin, **filters) -> list[dict]:
    answer = client.get("/api/audit", headers=admin.headers,
                        query_string={"limit": 100, **filters})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    page = answer.get_json()
    assert page["total"] <= 100
    return page["_embedded"]["inf:audit-entry"]


def rows_of(session, actor: str) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.actor == actor))


def test_refused_changes_repeated_by_a_level_1_user_share_one_entry(client, admin, member,
                                                                    session, make_integration):
    integration = make_integration("Read only for mia", shares={"mia": 1})

    for _ in range(ATTEMPTS):
        answer = client.put(f"/api/integrations/{integration}", headers=member.headers,
                            json={"description": "mine now"})
        assert answer.status_code == 403

    assert rows_of(session, "mia") == 1
    [entry] = audit_entries(client, admin, actor="mia")
    assert (entry["action"], entry["targetId"], entry["outcome"], entry["errorCode"]) == (
        "integration.update", integration, "denied", "forbidden")
    assert entry["count"] == ATTEMPTS
    assert entry["lastAt"] >= entry["at"]
    single = client.get(entry["_links"]["self"]["href"], headers=admin.headers).get_json()
    assert single["count"] == ATTEMPTS


def test_attempts_on_ever_new_targets_add_a_bounded_number_of_entries(client, admin, member,
                                                                      session):
    for number in range(ATTEMPTS):
        answer = client.delete(f"/api/users/probe-{number}", headers=member.headers)
        assert answer.status_code in (403, 404)

    rows = rows_of(session, "mia")
    assert rows < ATTEMPTS / 10  # a few dozen an hour at most (docs/security.md)
    assert rows <= audit.DISTINCT_ATTEMPTS + 1
    found = audit_entries(client, admin, actor="mia", action="user.delete")
    assert sum(entry["count"] for entry in found) == ATTEMPTS
    [rest] = [entry for entry in found if entry["targetId"] is None]
    assert rest["detail"] == {"variousTargets": True}
    assert rest["count"] == ATTEMPTS - audit.DISTINCT_ATTEMPTS


def test_each_actor_has_entries_of_their_own_and_successes_are_never_merged(
        client, admin, member, make_caller, make_integration):
    otto = make_caller("otto")
    integration = make_integration("Shared", shares={"mia": 1, "otto": 1})
    for caller, times in ((member, 3), (otto, 2)):
        for _ in range(times):
            assert client.delete(f"/api/integrations/{integration}",
                                 headers=caller.headers).status_code == 403
    for description in ("one", "two"):
        assert client.patch(f"/api/integrations/{integration}", headers=admin.headers,
                            json={"description": description}).status_code == 200

    refused = audit_entries(client, admin, action="integration.delete")
    assert sorted((entry["actor"], entry["count"]) for entry in refused) == [
        ("mia", 3), ("otto", 2)]
    changed = audit_entries(client, admin, action="integration.update")
    assert [entry["count"] for entry in changed] == [1, 1]
