"""The integration page's items are dumped by ``api/dumping.py`` for speed
(docs/performance.md, section 3): the answer must be exactly what marshmallow's own dump of
``IntegrationSchema`` gives, for every kind of integration and every level of access."""

import json

import pytest

from integration_hub.api.common import hal_page, page_schema
from integration_hub.api.integrations.schemas import IntegrationSchema
from integration_hub.db.session import db_session
from integration_hub.identity import directory as identity
from integration_hub.integrations import store
from tests import factories

# Plain marshmallow: what the page was before its items were compiled.
MarshmallowPage = page_schema(IntegrationSchema, "inf:integration", "MarshmallowPage")


@pytest.fixture
def varied(make_integration, make_caller, session):
    """Integrations of every shape a representation distinguishes, owned by someone else
    and shared with the team of ``mia`` at each level, and the same owned by her; her
    token."""
    mia = make_caller("mia")
    factories.user(session, "owen")
    factories.team(session, "readers", members=["mia"])
    session.commit()
    shapes = [
        dict(name="Drive", type="google-drive", category="storage", auth_type="oauth2",
             client_id="drive-client", client_secret="drive-secret-value-1"),
        dict(name="GitHub", type="github", mode="shared", auth_type="bearer",
             api_key="gh-token-value-2", headers={"X-Trace": "${user.username}"}),
        dict(name="Stripe", type="stripe", auth_type="apikey", description=None,
             image_url="https://img.example.com/stripe.png"),
        dict(name="Basic", type="custom", auth_type="basic", client_id="u",
             client_secret="basic-pass-value-3", data={"timeout": 5}),
        dict(name="Open", type="custom", auth_type="none", category=None),
        dict(name="Warehouse", type="database", category="database", auth_type="basic",
             mode="shared", data={"dialect": "postgresql", "host": "db.example.com",
                                  "port": 5432, "database": "sales"}),
    ]
    for number, shape in enumerate(shapes):
        level = number % 3 + 1
        make_integration(owner="owen", shares={"team:readers": level}, **shape)
        make_integration(owner="mia", **{**shape, "name": shape["name"] + " (mine)"})
    return mia


def marshmallow_page(app, username: str, query: str = "") -> str:
    """The page as plain marshmallow dumps it, in the order the answer's bytes hold it."""
    with app.test_request_context(f"/api/integrations{query}"):
        session = db_session()
        user = identity.get_user(session, "default", username)
        items, total = store.list_page(session, user, {}, 0, 50)
        page = hal_page("integrations.Integrations", "inf:integration", items, 0, 50, total)
        return json.dumps(MarshmallowPage().dump(page))


@pytest.mark.parametrize("who", ["root", "mia"])
def test_the_page_is_what_marshmallow_dumps(app, client, admin, varied, who):
    caller = admin if who == "root" else varied

    answer = client.get("/api/integrations?limit=50", headers=caller.headers)

    assert answer.status_code == 200
    items = answer.get_json()["_embedded"]["inf:integration"]
    assert len(items) == 12
    assert json.dumps(answer.get_json()) == marshmallow_page(app, caller.username, "?limit=50")
