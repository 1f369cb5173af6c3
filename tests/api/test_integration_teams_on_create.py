"""Registering an integration with ``teams``: read shares for those teams, made in the same
transaction as the integration (docs/decisions.md, "Integrations")."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from integration_hub.db.models import Integration, IntegrationShare, WebhookDelivery
from tests import factories
from tests.api.test_integrations import OAUTH


@pytest.fixture
def teams(session, make_caller):
    """Team eng (mia) and team ops (otto); nina is in neither."""
    callers = {name: make_caller(name) for name in ("mia", "otto", "nina")}
    factories.team(session, "eng", members=["mia"])
    factories.team(session, "ops", members=["otto"])
    session.commit()
    return callers


def create(client, caller, **values):
    return client.post("/api/integrations", headers=caller.headers, json={**OAUTH, **values})


def test_the_teams_named_get_read_shares(client, admin, teams):
    created = create(client, admin, teams=["team:eng", "ops", "eng"])

    assert created.status_code == 201, created.get_data(as_text=True)
    integration = created.get_json()["id"]
    shares = client.get(f"/api/integrations/{integration}/shares", headers=admin.headers).get_json()
    levels = {share["principalId"]: share["accessLevel"]
              for share in shares["_embedded"]["inf:integration-share"]}
    assert levels == {"team:eng": 1, "team:ops": 1}
    path = f"/api/integrations/{integration}"
    assert client.get(path, headers=teams["mia"].headers).status_code == 200
    assert client.get(path, headers=teams["otto"].headers).status_code == 200
    assert client.get(path, headers=teams["nina"].headers).status_code == 404
    assert "teams" not in created.get_json()


def test_an_unknown_team_registers_nothing(client, admin, teams, session):
    before = session.scalar(select(func.count()).select_from(Integration))

    answer = create(client, admin, teams=["eng", "team:nobody", "mia"])

    assert answer.status_code == 422
    problem = answer.get_json()
    assert problem["code"] == "validation_failed"
    assert problem["errors"]["teams"] == ["'team:nobody' is not a team of this tenant",
                                          "'team:mia' is not a team of this tenant"]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Integration)) == before


@pytest.mark.parametrize("named", ["team:sales", "sales"])
def test_a_team_of_another_tenant_registers_nothing(client, admin, teams, session, receiver,
                                                    run_queue, make_webhook, named):
    factories.team(session, "sales", tenant="acme", members=[])  # no team of admin's tenant
    session.commit()
    make_webhook(["*"])
    before = session.scalar(select(func.count()).select_from(Integration))

    answer = create(client, admin, name="Leaky", teams=["eng", named])

    assert answer.status_code == 422
    assert answer.mimetype == "application/problem+json"
    problem = answer.get_json()
    assert problem["code"] == "validation_failed"
    assert problem["errors"]["teams"] == ["'team:sales' is not a team of this tenant"]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Integration)) == before
    assert session.scalars(select(IntegrationShare)).all() == []
    assert session.scalars(select(WebhookDelivery)).all() == []
    run_queue()
    assert receiver.deliveries() == []


def test_each_team_share_is_announced_as_share_created(client, admin, teams, session, receiver,
                                                       run_queue, make_webhook):
    make_webhook(["integration.created", "share.created"])

    created = create(client, admin, teams=["eng", "team:ops", "team:eng"])

    assert created.status_code == 201, created.get_data(as_text=True)
    integration = created.get_json()["id"]
    outbox = session.scalars(select(WebhookDelivery)).all()  # committed with the integration
    assert sorted(row.event_type for row in outbox) == ["integration.created", "share.created",
                                                        "share.created"]
    run_queue()
    got = receiver.deliveries("/hook")
    assert all(d.signature_valid for d in got)
    shares = sorted((d.json for d in got if d.event == "share.created"),
                    key=lambda body: body["data"]["principalId"])
    assert [body["data"]["principalId"] for body in shares] == ["team:eng", "team:ops"]
    for body in shares:
        assert body["data"]["accessLevel"] == 1
        assert body["data"]["_embedded"]["inf:team"]["type"] == "team"
        assert body["data"]["_links"]["inf:integration"]["href"] == \
            f"http://localhost/api/integrations/{integration}"
        assert body["actor"] == "root" and body["tenant"] == "default"
    assert len({body["id"] for body in shares}) == 2  # two events, not one sent twice


def test_the_teams_are_audited_with_the_registration(client, admin, teams):
    created = create(client, admin, teams=["eng"]).get_json()

    entry = client.get("/api/audit?action=integration.create",
                       headers=admin.headers).get_json()["_embedded"]["inf:audit-entry"][0]
    assert entry["targetId"] == created["id"]
    assert entry["detail"]["teams"] == ["team:eng"]
    assert "teams" in entry["detail"]["fields"]


@pytest.mark.parametrize("teams_value", [["x" * 71], ["ok"] * 101, "eng", [""]],
                         ids=["name-too-long", "too-many", "not-a-list", "empty-name"])
def test_teams_must_be_a_short_list_of_names(client, admin, teams, teams_value):
    answer = create(client, admin, teams=teams_value)

    assert answer.status_code == 422
    assert "teams" in answer.get_json()["errors"]
