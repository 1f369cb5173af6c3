"""The provider catalogue: types, defaults on create, the icon registry and provisioning."""

import threading

import pytest
from sqlalchemy import func, select

from integration_hub import create_app
from integration_hub.db.models import Integration
from integration_hub.integrations.catalogue import catalogue
from tests.conftest import make_settings


def test_types_are_listed_and_filtered(client, member):
    page = client.get("/api/integration-types?limit=500", headers=member.headers).get_json()
    types = {t["type"]: t for t in page["_embedded"]["inf:integration-type"]}

    assert page["total"] == len(types) >= 25
    drive = types["google-drive"]
    assert drive["authType"] == "oauth2" and drive["supportsUpload"] is True
    assert drive["authUri"].startswith("https://accounts.google.com/")
    assert drive["data"]["authParams"]["access_type"] == "offline"
    assert drive["dataSchema"]["allOf"]
    assert drive["_links"]["self"]["href"] == "/api/integration-types/google-drive"

    storage = client.get("/api/integration-types?category=storage&limit=500",
                         headers=member.headers).get_json()
    assert {t["category"] for t in storage["_embedded"]["inf:integration-type"]} == {"storage"}
    found = client.get("/api/integration-types?q=gdrive", headers=member.headers).get_json()
    assert [t["type"] for t in found["_embedded"]["inf:integration-type"]] == ["google-drive"]


def test_one_type_and_unknown_type(client, member):
    salesforce = client.get("/api/integration-types/salesforce", headers=member.headers).get_json()
    assert "${connection.instance_url}" in salesforce["apiBaseUri"]
    missing = client.get("/api/integration-types/nope", headers=member.headers)
    assert missing.status_code == 404
    assert missing.get_json()["code"] == "integration_type_not_found"


def test_type_icons_are_served_as_safe_svg(client, member):
    icon_href = client.get("/api/integration-types/github",
                           headers=member.headers).get_json()["_links"]["inf:icon"]["href"]

    icon = client.get(icon_href)  # public, like any static asset

    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert icon.data.lstrip().startswith(b"<svg")
    assert "script-src" not in icon.headers["Content-Security-Policy"]
    assert icon.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert icon.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/api/integration-types/nope/icon").status_code == 404


def test_icon_registry(client, member):
    answer = client.get("/api/integration-icon-registry", headers=member.headers)

    assert answer.mimetype == "application/json"
    entries = {e["name"]: e for e in answer.get_json()}
    drive = entries["Google Drive"]
    assert "gdrive" in drive["aliases"]
    assert drive["aliases"] == sorted(drive["aliases"], key=len, reverse=True)
    assert client.get(drive["imageUrl"]).status_code == 200


def test_create_with_name_and_type_fills_catalogue_defaults(client, admin):
    answer = client.post("/api/integrations", headers=admin.headers, json={
        "name": "Engineering Drive", "type": "google-drive", "clientId": "cid",
        "clientSecret": "drive-secret-value", "scope": "https://www.googleapis.com/auth/drive.file",
        "data": {"pkce": False}})

    assert answer.status_code == 201, answer.get_data(as_text=True)
    body = answer.get_json()
    spec = catalogue().get("google-drive").spec
    for field in ("authUri", "tokenUri", "revocationUri", "userInfoUri", "apiBaseUri", "category"):
        assert body[field] == spec[field], field
    assert body["scope"] == "https://www.googleapis.com/auth/drive.file"  # given wins
    assert body["data"] == {"authParams": spec["authParams"], "pkce": False}
    assert body["supportsUpload"] is True
    assert body["imageUrl"] == "/api/integration-types/google-drive/icon"
    assert body["_links"]["inf:integration-type"]["href"] == "/api/integration-types/google-drive"
    assert body["_links"]["inf:icon"]["href"] == f"/api/integrations/{body['id']}/icon"


def test_catalogue_oauth_type_still_needs_a_client_id(client, admin):
    answer = client.post("/api/integrations", headers=admin.headers,
                         json={"name": "Drive", "type": "google-drive"})
    assert answer.status_code == 422 and set(answer.get_json()["errors"]) == {"clientId"}


def test_data_is_checked_against_the_type_schema(client, session, admin):
    answer = client.post("/api/integrations", headers=admin.headers, json={
        "name": "Warehouse", "type": "postgresql", "data": {"host": "db", "port": "not-a-port"}})

    assert answer.status_code == 422
    errors = answer.get_json()["errors"]
    assert "data.port" in errors and "data" in errors  # wrong type; database missing
    assert session.scalar(select(func.count()).select_from(Integration)) == 0
    ok = client.post("/api/integrations", headers=admin.headers, json={
        "name": "Warehouse", "type": "postgresql",
        "data": {"host": "db.internal", "port": 5432, "database": "sales"}})
    assert ok.status_code == 201


def test_other_auth_type_skips_the_catalogue_oauth_defaults(client, admin):
    body = client.post("/api/integrations", headers=admin.headers, json={
        "name": "GitHub via token", "type": "github", "authType": "bearer",
        "apiKey": "github-pat-value"}).get_json()
    assert body["authUri"] is None and body["tokenUri"] is None
    assert body["apiBaseUri"] == "https://api.github.com"


def test_name_match_gives_an_icon_to_unknown_types(client, admin):
    body = client.post("/api/integrations", headers=admin.headers, json={
        "name": "Marketing Salesforce sandbox", "type": "crm-sandbox", "authType": "none"}
    ).get_json()
    assert body["imageUrl"] == "/api/integration-types/salesforce/icon"
    plain = client.post("/api/integrations", headers=admin.headers, json={
        "name": "Qwxyz", "type": "qwxyz", "authType": "none"}).get_json()
    assert plain["imageUrl"] is None and "inf:icon" not in plain["_links"]
    assert "inf:integration-type" not in plain["_links"]


# -- provisioning ------------------------------------------------------------

def provision(client, caller, driver_type):
    return client.post("/api/integrations/provision", headers=caller.headers,
                       json={"driverType": driver_type})


def test_provision_creates_once_then_returns_the_same(client, admin):
    first = provision(client, admin, "openai")
    second = provision(client, admin, "OpenAI")

    assert first.status_code == 201 and first.headers["Location"].endswith(first.get_json()["id"])
    assert second.status_code == 200
    assert second.get_json()["id"] == first.get_json()["id"]
    assert first.get_json()["type"] == "openai" and first.get_json()["authType"] == "bearer"


def test_provision_permissions_and_bad_input(client, admin, member, make_integration):
    assert provision(client, member, "openai").status_code == 403
    assert provision(client, admin, "no-such-provider").status_code == 422
    assert client.post("/api/integrations/provision", headers=admin.headers,
                       json={}).status_code == 422
    shared = make_integration("OpenAI for all", type="openai", auth_type="bearer",
                              shares={"mia": 1})
    readable = provision(client, member, "openai")
    assert readable.status_code == 200 and readable.get_json()["id"] == shared


def test_provision_oauth_type_needs_configured_client(migrated_app, tmp_path, client, admin):
    unconfigured = provision(client, admin, "googledrive")
    assert unconfigured.status_code == 409
    assert unconfigured.get_json()["code"] == "provider_not_configured"
    assert "HUB_PROVIDER_GOOGLE_DRIVE_CLIENT_ID" in unconfigured.get_json()["detail"]

    settings = make_settings(migrated_app.config["HUB_SETTINGS"].database_url, tmp_path,
                             HUB_PROVIDER_GOOGLE_DRIVE_CLIENT_ID="hub-drive-client",
                             HUB_PROVIDER_GOOGLE_DRIVE_CLIENT_SECRET="hub-drive-secret-value")
    configured = create_app(settings).test_client()
    created = provision(configured, admin, "gdrive")
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert body["type"] == "google-drive" and body["clientId"] == "hub-drive-client"
    assert body["hasClientSecret"] is True and "hub-drive-secret-value" not in created.get_data(True)


def test_concurrent_provision_creates_exactly_one(app, session, admin):
    barrier = threading.Barrier(8)
    answers = []

    def call():
        client = app.test_client()
        barrier.wait()
        answers.append(provision(client, admin, "stripe"))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 7 + [201], [a.get_data(as_text=True) for a in answers]
    assert len({answer.get_json()["id"] for answer in answers}) == 1
    count = session.scalar(select(func.count()).select_from(Integration)
                           .where(Integration.type == "stripe"))
    assert count == 1


@pytest.mark.parametrize("slug", ["provision"])
def test_reserved_slugs(client, admin, slug):
    answer = client.post("/api/integrations", headers=admin.headers,
                         json={"name": "Provision", "type": "custom", "authType": "none"})
    assert answer.get_json()["slug"] == "provision-2"
    explicit = client.post("/api/integrations", headers=admin.headers,
                           json={"name": "x", "type": "custom", "authType": "none", "slug": slug})
    assert explicit.status_code == 422


def test_catalogue_base_urls_with_connection_placeholders_are_accepted(client, admin):
    answer = client.post("/api/integrations", headers=admin.headers,
                         json={"name": "CRM", "type": "salesforce", "clientId": "sf-client"})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.get_json()["apiBaseUri"].startswith("${connection.instance_url}/")
