"""The two integration lists: HAL pages with filters, and the flat gallery array."""

import pytest
from sqlalchemy import event

from integration_hub.db.models import Integration, Tag, integration_tags
from tests import factories


@pytest.fixture
def catalogue(make_integration, session):
    """Five integrations of varied kinds, one embedded, one tagged."""
    ids = {
        "drive": make_integration("Drive Sales", type="google-drive", category="storage",
                                  auth_type="none", description="Sales team files"),
        "github": make_integration("GitHub", type="github", category="development",
                                   mode="shared", auth_type="bearer", api_key="gh-token-value-1"),
        "stripe": make_integration("Stripe", type="stripe", category="payments",
                                   auth_type="apikey", mode="per-user"),
        "alpha": make_integration("alpha tools", type="custom", auth_type="basic", mode="per-user",
                                  client_id="user", client_secret="basic-pass-value"),
        "hidden": make_integration("Embedded helper", type="custom", auth_type="none",
                                   embedded=True),
    }
    tag = Tag(tenant_id="default", name="finance", color="#00aa00")
    session.add(tag)
    session.flush()
    session.execute(integration_tags.insert().values(integration_id=ids["stripe"], tag_id=tag.id))
    session.commit()
    ids["tag"] = tag.id
    return ids


def names(page) -> list[str]:
    return [i["name"] for i in page["_embedded"]["inf:integration"]]


def test_page_is_ordered_by_name_and_excludes_embedded(client, admin, catalogue):
    page = client.get("/api/integrations", headers=admin.headers).get_json()

    assert names(page) == ["alpha tools", "Drive Sales", "GitHub", "Stripe"]  # case-insensitive
    assert page["total"] == 4 and page["count"] == 4 and page["start"] == 0
    for item in page["_embedded"]["inf:integration"]:
        assert item["_links"]["self"]["href"] == f"/api/integrations/{item['id']}"
        assert "clientSecret" not in item and "apiKey" not in item


@pytest.mark.parametrize("query, expected", [
    ("q=sales", {"Drive Sales"}),
    ("q=SALES%20TEAM", {"Drive Sales"}),
    ("type=github", {"GitHub"}),
    ("category=payments", {"Stripe"}),
    ("supportsUpload=true", {"Drive Sales"}),  # from the catalogue: Google Drive uploads
    ("supportsUpload=false", {"Stripe", "GitHub", "alpha tools"}),
    ("mode=shared", {"GitHub"}),
    ("authType=BASIC", {"alpha tools"}),
    ("tag=finance", {"Stripe"}),
    ("q=helper", set()),
    ("type=github&mode=per-user", set()),
])
def test_filters(client, admin, catalogue, query, expected):
    page = client.get(f"/api/integrations?{query}", headers=admin.headers).get_json()
    assert set(names(page)) == expected
    assert page["total"] == len(expected)


def test_tag_filter_accepts_the_tag_id(client, admin, catalogue):
    page = client.get(f"/api/integrations?tag={catalogue['tag']}", headers=admin.headers).get_json()
    assert names(page) == ["Stripe"]


def test_paging_keeps_filters(client, admin, catalogue):
    page = client.get("/api/integrations?category=storage&limit=1", headers=admin.headers).get_json()
    assert page["_links"]["self"]["href"] == "/api/integrations?category=storage&start=0&limit=1"

    first = client.get("/api/integrations?limit=3", headers=admin.headers).get_json()
    second = client.get(first["_links"]["next"]["href"], headers=admin.headers).get_json()
    assert first["count"] == 3 and second["count"] == 1 and "next" not in second
    assert set(names(first)).isdisjoint(names(second))
    assert second["_links"]["prev"]["href"] == "/api/integrations?start=0&limit=3"


def test_flat_list(client, admin, catalogue, session):
    factories.share(session, session.get(Integration, catalogue["github"]), "team:x", 2)
    session.commit()

    answer = client.get("/api/integrations-list", headers=admin.headers)

    assert answer.mimetype == "application/json"
    rows = {row["name"]: row for row in answer.get_json()}
    assert set(rows) == {"alpha tools", "Drive Sales", "GitHub", "Stripe"}
    assert rows["Stripe"]["tags"] == [catalogue["tag"]]
    assert rows["GitHub"]["shared"] is True
    assert rows["GitHub"]["sharing"] == [{"principalId": "team:x", "accessLevel": 2}]
    assert rows["Drive Sales"]["shared"] is False and rows["Drive Sales"]["sharing"] == []
    assert rows["GitHub"]["ownerId"] == "root"
    # usable now: no auth needed, or the integration's own key/secret is set
    assert {name: row["connected"] for name, row in rows.items()} == {
        "alpha tools": True, "Drive Sales": True, "GitHub": True, "Stripe": False}
    assert "_links" not in rows["GitHub"]

    etag = answer.headers["ETag"]
    assert client.get("/api/integrations-list",
                      headers={**admin.headers, "If-None-Match": etag}).status_code == 304


def test_list_etag_changes_with_the_data(client, admin, catalogue):
    before = client.get("/api/integrations", headers=admin.headers).headers["ETag"]
    client.put(f"/api/integrations/{catalogue['drive']}", headers=admin.headers,
               json={"description": "changed"})
    after = client.get("/api/integrations", headers=admin.headers)
    assert after.headers["ETag"] != before
    assert client.get("/api/integrations", headers={**admin.headers, "If-None-Match": before}
                      ).status_code == 200


class StatementCounter:
    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, *args):
        self.count += 1


def test_statement_count_does_not_grow_with_the_page(app, client, session, make_caller,
                                                     make_integration):
    reader = make_caller("reader")
    factories.team(session, "readers", members=["reader"])
    session.commit()
    for n in range(30):
        make_integration(f"Shared {n:02}", shares={"team:readers": 1, "someone": 2},
                         api_key=f"value-{n:04}")
    engine = app.extensions["integration_hub.db"].kw["bind"]
    client.get("/api/integrations?limit=1", headers=reader.headers)  # warm caches, lastUsedAt

    counts = {}
    for path in ("/api/integrations?limit=2", "/api/integrations?limit=30",
                 "/api/integrations-list"):
        with StatementCounter(engine) as counter:
            answer = client.get(path, headers=reader.headers)
        assert answer.status_code == 200
        counts[path] = counter.count

    assert counts["/api/integrations?limit=2"] == counts["/api/integrations?limit=30"]
    assert counts["/api/integrations?limit=30"] <= 5
    assert counts["/api/integrations-list"] <= 6
    assert len(client.get("/api/integrations-list", headers=reader.headers).get_json()) == 30
