"""What the caller's connection says (``GET .../connection``) when there is one, when none
is needed and when one is missing; the connected account (``GET .../account``); and the
one problem for "not connected", wherever a caller meets it.

See docs/api-conventions.md, "The caller's connection".
"""

from __future__ import annotations

from sqlalchemy import select

from integration_hub.db.models import Connection


def get(client, caller, href: str):
    return client.get(href, headers=caller.headers)


def connect(client, caller, integration: str, **body):
    answer = client.post(f"/api/integrations/{integration}/connect", headers=caller.headers,
                         json=body)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()


# -- the connected account ----------------------------------------------------------------

def test_the_account_answers_every_field_the_connection_stores(client, session, member,
                                                               oauth_server, oauth_integration):
    integration = oauth_integration(shares={"mia": 1})
    connect(client, member, integration, accessToken="account-access-token", expiresIn=3600)
    session.rollback()
    row = session.scalars(select(Connection)).one()
    stored = dict(row.account)
    assert stored and None not in stored.values()  # the provider named the account fully

    base = f"/api/integrations/{integration}"
    for query in ("", "?refresh=true"):
        answer = get(client, member, f"{base}/account{query}")
        assert answer.status_code == 200, answer.get_data(as_text=True)
        account = answer.get_json()
        links = account.pop("_links", None)
        assert account == stored

    assert links["self"]["href"] == f"{base}/account"
    assert get(client, member, base).get_json()["_links"]["inf:account"] == links["self"]
    again = get(client, member, links["self"]["href"])
    assert again.status_code == 200 and again.get_json()["_links"] == links
    described = get(client, member, links["inf:integration"]["href"])
    assert described.status_code == 200 and described.get_json()["id"] == integration
    connection = get(client, member, links["inf:connection"]["href"])
    assert connection.status_code == 200 and connection.get_json()["id"] == row.id
    assert connection.get_json()["account"] == stored
