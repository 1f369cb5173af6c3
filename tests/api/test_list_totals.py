"""The integration page's ``total`` is remembered by each process between changes
(integrations/totals.py): it must still be exact right after any change that alters what
the caller can read, on both databases."""

import time

import pytest
from sqlalchemy import event

from integration_hub.db.models import Integration, IntegrationShare, TeamMember
from tests import factories


def total(client, caller, query: str = "") -> int:
    answer = client.get(f"/api/integrations?limit=2{query}", headers=caller.headers)
    assert answer.status_code == 200
    return answer.get_json()["total"]


@pytest.fixture
def reader(make_caller, make_integration, session):
    """mia, in team readers, with two integrations shared with the team and one not."""
    mia = make_caller("mia")
    factories.user(session, "owen")
    factories.team(session, "readers", members=["mia"])
    session.commit()
    for name in ("Alpha", "Beta"):
        make_integration(name, owner="owen", shares={"team:readers": 1})
    make_integration("Hidden", owner="owen")
    return mia


def test_the_total_follows_new_integrations_and_shares_at_once(client, reader,
                                                               make_integration):
    assert total(client, reader) == 2
    assert total(client, reader) == 2  # remembered: the same answer

    make_integration("Gamma", owner="owen", shares={"team:readers": 2})
    assert total(client, reader) == 3

    make_integration("Mine", owner="mia")
    assert total(client, reader) == 4


def test_the_total_follows_shares_and_membership_of_existing_integrations(
        client, reader, session):
    assert total(client, reader) == 2
    hidden = session.query(Integration).filter_by(name="Hidden").one()

    factories.share(session, hidden, "mia", 1)
    session.commit()
    assert total(client, reader) == 3

    session.query(IntegrationShare).filter_by(integration_id=hidden.id).delete()
    session.commit()
    assert total(client, reader) == 2

    session.query(TeamMember).delete()  # mia leaves her team
    session.commit()
    assert total(client, reader) == 0


def test_filtered_totals_are_remembered_apart(client, reader, make_integration):
    assert total(client, reader, "&q=alpha") == 1
    assert total(client, reader) == 2

    make_integration("Alpha two", owner="owen", shares={"team:readers": 1})

    assert total(client, reader, "&q=alpha") == 2
    assert total(client, reader) == 3


def test_a_remembered_total_is_not_counted_again(app, client, reader):
    """The cache is in use: once counted, the page's statement reads the page alone.
    (On PostgreSQL the generation is known once the process's listener has connected.)"""
    engine = app.extensions["integration_hub.db"].kw["bind"]
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_):
        statements.append(statement.lower())

    event.listen(engine, "before_cursor_execute", record)
    try:
        for _ in range(100):
            statements.clear()
            assert total(client, reader) == 2
            if not any("count(" in statement for statement in statements):
                break
            time.sleep(0.05)
        else:
            pytest.fail("every request counted the readable integrations again")
    finally:
        event.remove(engine, "before_cursor_execute", record)
