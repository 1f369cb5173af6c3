"""Schemathesis against the served OpenAPI document (docs/api-conventions.md): no 5xx, and every answer
matches what the document says of it (status, media type, body schema).

How it is set up, and why:

* The schema is ``/api/openapi.json`` as the hub serves it, loaded from the app's WSGI
  callable (``schemathesis.openapi.from_wsgi``): no server, no sockets for the hub itself.
  The ``app`` fixture runs everything once per database backend (SQLite and PostgreSQL);
  both together take about a minute.
* Every case is sent as the ``admin`` caller (``Authorization: Bearer ...``), a superuser, so
  the operations get past authentication and authorisation and reach their real work. The
  401/403 answers are the API tests' business; here they would only hide the rest.
* Left out: the raw streaming proxy ``/request/{target}`` (any method, answers the upstream's
  bytes with the upstream's media type: nothing a document can describe), and ``/api/docs*``
  (Swagger UI's HTML and assets, not in the document). ``/api/login`` and ``/api/logout``
  stay: they are JSON operations like the others.
* Nothing reaches the internet, and nothing is left to fail with 502 against hosts that do not
  exist: every integration the cases can name points at the local ``upstream`` test server
  (or a SQLite file under a temporary ``HUB_SQLITE_ROOT``). The integration the cases may
  reconfigure ("scratch": its ``apiBaseUri`` may become any URL) is never the one the
  network-calling operations (request, test, connect, account, sync, directories) are pointed
  at. Queued work (webhook deliveries, sync runs) is never run: the ``app`` fixture empties
  the queue afterwards.
* Path parameters: schemathesis cannot guess uuids, so the test points most generated values
  (3 in 4, chosen by a hash of the value) at seeded resources (``Seed``) and leaves the rest
  as generated, for the 404 answers. Each DELETE gets a resource of its own ("doomed"), so
  deleting it does not turn the later operations into 404s. A few operations have an explicit
  body example that succeeds (a read-only SQL query, an envelope call, a webhook...): the
  explicit phase runs it once; generated bodies rarely get past validation.
* Checks: ``not_a_server_error``, ``status_code_conformance``, ``content_type_conformance``,
  ``response_schema_conformance``. ``status_code_conformance`` lets anything through here
  (flask-smorest adds a ``default`` response to every operation), so the test also asserts
  that the status is declared explicitly (``@blp.response``/``alt_response``/``problems``),
  that HAL answers only use documented relations, and that no seeded secret comes back.
* Bounded and reproducible for CI: ``MAX_EXAMPLES`` generated cases per operation, no
  shrinking, derandomized, nothing learnt from answers (their uuids differ on every run), no
  deadline. The cases change only when this test function's source changes.
"""

from __future__ import annotations

import dataclasses
import io
import sqlite3
import zlib
from contextlib import closing
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.config import SchemathesisConfig

from integration_hub.hal.relations import RELATIONS
from tests.secret_watch import WATCH, link_problems

MAX_EXAMPLES = 10
EXCLUDED_PATHS = r"^/api/(integrations/\{integration_id\}/request/\{target\}|docs)"
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance")
PROXY_CALL = ("POST", "/api/integrations/{integration_id}/request")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(24)


# -- where the path parameters point ----------------------------------------------------------

@dataclasses.dataclass
class Seed:
    """Ids of the resources the cases are pointed at (see the module docstring)."""

    stable: str = ""        # shared API-key integration on the upstream: proxy, test, sync, records
    personal: str = ""      # per-user integration the admin connected: connection operations
    unplugged: str = ""     # per-user integration the admin connected: DELETE connection
    oauth: str = ""         # OAuth2 integration (endpoints on the upstream): GET connect
    database: str = ""      # SQLite database integration: query, schema
    scratch: str = ""       # may be changed in any way: integration, shares, owner, icon, tags
    doomed: str = ""        # DELETE integration
    connection: str = ""
    tag: str = ""
    doomed_tag: str = ""
    token: str = ""         # a second token of the admin's (never the one the cases use)
    run: str = ""
    request: str = ""       # a call in the stable integration's request log
    webhook: str = ""
    doomed_webhook: str = ""
    delivery: str = ""
    audit_entry: str = ""
    type_name: str = "github"
    record: str = "r1"


def _integration_for(path: str, method: str, seed: Seed) -> str:
    rest = path.removeprefix("/api/integrations/{integration_id}")
    if rest == "" and method == "DELETE":
        return seed.doomed
    if rest == "/connection" and method == "DELETE":
        return seed.unplugged
    if rest == "/connect" and method == "GET":
        return seed.oauth
    if rest.startswith(("/connect", "/account")):
        return seed.personal
    if rest in ("/query", "/schema"):
        return seed.database
    if rest.startswith(("/request", "/test", "/sync", "/records", "/store", "/import",
                        "/directories")):
        return seed.stable
    return seed.scratch


def seeded_value(path: str, method: str, name: str, seed: Seed) -> str | None:
    """The seeded resource a path parameter of this operation names, if any."""
    if name == "integration_id":
        return _integration_for(path, method, seed)
    delete = method == "DELETE"
    return {
        "principal_id": "mia",
        "tag_id": seed.doomed_tag if delete and path == "/api/tags/{tag_id}" else seed.tag,
        "username": "dora" if delete and path == "/api/users/{username}" else "mia",
        "team_id": "team:gone" if delete and path == "/api/teams/{team_id}" else "team:ops",
        "token_id": seed.token,
        "type_name": seed.type_name,
        "connection_id": seed.connection,
        "model": "resources",
        "record_id": seed.record,
        "run_id": seed.run,
        "request_id": seed.request,
        "webhook_id": (seed.doomed_webhook if delete and path == "/api/webhooks/{webhook_id}"
                       else seed.webhook),
        "delivery_id": seed.delivery,
        "entry_id": seed.audit_entry,
        "rel": "integration",
    }.get(name)


def _seeded_often(value: Any) -> bool:
    return zlib.crc32(repr(value).encode()) % 4 != 0


# -- seeding -------------------------------------------------------------------------------------

def _ok(answer, status: int = 200) -> Any:
    assert answer.status_code == status, answer.get_data(as_text=True)
    return answer.get_json(silent=True)


@pytest.fixture
def seed(app, admin, member, make_integration, upstream, tmp_path, monkeypatch) -> Seed:
    """The resources the cases are pointed at, made through the hub's own API where it can."""
    # A SQLite target for the database operations; short timeouts, should anything hang.
    monkeypatch.setitem(app.config, "HUB_SETTINGS", dataclasses.replace(
        app.config["HUB_SETTINGS"], sqlite_root=tmp_path.resolve(), proxy_connect_timeout=2.0,
        proxy_read_timeout=5.0))
    with closing(sqlite3.connect(tmp_path / "target.db")) as db, db:
        db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
        db.executemany("INSERT INTO items VALUES (?, ?, ?)", [(1, "one", 1.5), (2, "two", None)])

    api = app.test_client()
    auth = {"headers": admin.headers}
    on_upstream = {"api_base_uri": upstream.url, "data": {"healthCheck": "/health"}}
    seed = Seed()
    seed.stable = make_integration("Stable API", api_key="stable-api-key-0123456789", data={
        "healthCheck": "/health",
        "sync": {"model": "contacts", "path": "/contacts", "itemsPath": "items"}},
        api_base_uri=upstream.url)
    seed.personal = make_integration("Personal API", mode="per-user", **on_upstream)
    seed.unplugged = make_integration("Unplugged API", mode="per-user", **on_upstream)
    seed.oauth = make_integration(
        "OAuth API", auth_type="oauth2", mode="per-user", client_id="hub-client",
        client_secret="hub-client-secret-0123456789", auth_uri=f"{upstream.url}/authorize",
        token_uri=f"{upstream.url}/token", **on_upstream)
    seed.database = make_integration("Target DB", type="sqlite", auth_type="none", mode="shared",
                                     api_base_uri=None, data={"path": "target.db"})
    seed.scratch = make_integration("Scratch API", shares={"mia": 1}, **on_upstream)
    seed.doomed = make_integration("Doomed API", **on_upstream)

    for integration in (seed.personal, seed.unplugged):
        _ok(api.post(f"/api/integrations/{integration}/connect", json={
            "apiKey": "personal-api-key-0123456789"}, **auth), 201)
    seed.connection = _ok(api.get(f"/api/integrations/{seed.personal}/connections",
                                  **auth))["_embedded"]["inf:connection"][0]["id"]

    _ok(api.post("/api/users", json={"username": "dora"}, **auth), 201)
    for slug in ("ops", "gone"):
        _ok(api.post("/api/teams", json={"id": slug, "name": slug.title(),
                                          "members": [{"username": "mia"}]}, **auth), 201)
    _ok(api.put(f"/api/integrations/{seed.scratch}/shares/team:ops", json={"accessLevel": 2},
                **auth), 201)
    seed.token = _ok(api.post("/api/tokens", json={"name": "spare"}, **auth), 201)["id"]
    seed.tag = _ok(api.post("/api/tags", json={"name": "seeded"}, **auth), 201)["id"]
    seed.doomed_tag = _ok(api.post("/api/tags", json={"name": "doomed"}, **auth), 201)["id"]
    _ok(api.put(f"/api/integrations/{seed.scratch}/tags/{seed.tag}", **auth), 201)
    _ok(api.put(f"/api/integrations/{seed.scratch}/icon", data=PNG, content_type="image/png",
                **auth))

    csv = io.BytesIO(b"id,name,amount\nr1,first,1\nr2,second,2.5\n")
    _ok(api.post(f"/api/integrations/{seed.stable}/import", data={
        "resources_file": (csv, "records.csv")}, content_type="multipart/form-data", **auth))
    _ok(api.post(f"/api/integrations/{seed.stable}/request", json={"url": "/hello"}, **auth))
    seed.request = _ok(api.get(f"/api/integrations/{seed.stable}/requests",
                               **auth))["_embedded"]["inf:proxy-request"][0]["id"]
    seed.run = _ok(api.post(f"/api/integrations/{seed.stable}/sync", **auth), 202)["id"]

    hook = {"url": "http://127.0.0.1:9/hook", "events": ["*"]}
    seed.webhook = _ok(api.post("/api/webhooks", json=hook, **auth), 201)["id"]
    seed.doomed_webhook = _ok(api.post("/api/webhooks", json=hook, **auth), 201)["id"]
    seed.delivery = _ok(api.post(f"/api/webhooks/{seed.webhook}/ping", **auth), 202)["id"]
    seed.audit_entry = _ok(api.get("/api/audit?limit=1", **auth))["_embedded"][
        "inf:audit-entry"][0]["id"]
    return seed


# -- the schema ----------------------------------------------------------------------------------

def body_examples(upstream_url: str) -> dict[tuple[str, str], dict]:
    """Request bodies that succeed, for the explicit phase."""
    return {
        ("POST", "/api/integrations"): {"name": "Made by schemathesis", "type": "custom",
                                        "authType": "apikey", "apiBaseUri": upstream_url},
        ("PUT", "/api/integrations/{integration_id}"): {"description": "changed"},
        ("POST", "/api/integrations/provision"): {"driverType": "stripe"},
        ("PUT", "/api/integrations/{integration_id}/owner"): {"principalId": "team:ops"},
        ("PUT", "/api/integrations/{integration_id}/shares/{principal_id}"): {"accessLevel": 2},
        ("POST", "/api/integrations/{integration_id}/connect"): {
            "apiKey": "another-api-key-0123456789"},
        ("POST", "/api/integrations/{integration_id}/request"): {
            "url": "/things", "params": {"q": "x"}, "envelope": True},
        ("POST", "/api/integrations/{integration_id}/query"): {
            "sql": "SELECT id, name, price FROM items ORDER BY id", "limit": 1},
        ("POST", "/api/integrations/{integration_id}/store"): {"op": "sum", "fields": ["amount"]},
        ("POST", "/api/users"): {"username": "made", "displayName": "Made"},
        ("POST", "/api/teams"): {"id": "made", "name": "Made"},
        ("POST", "/api/tags"): {"name": "made", "color": "#1a2b3c"},
        ("POST", "/api/tokens"): {"name": "made"},
        ("PUT", "/api/tenant"): {"settings": {"region": "eu"}},
        ("POST", "/api/webhooks"): {"url": "http://127.0.0.1:9/made", "events": ["*"]},
    }


@pytest.fixture
def api_schema(app, seed, upstream, backend):
    config = SchemathesisConfig.from_dict({
        # No learning from answers (their uuids and timestamps differ on every run).
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False},
                   "examples": {"fill-missing": True, "extra-data-sources": {"responses": False}},
                   "fuzzing": {"extra-data-sources": {"responses": False},
                               "error-feedback": {"enabled": False}}},
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True,
                       "with-security-parameters": False},
    })
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=config)
    for (method, path), example in body_examples(upstream.url).items():
        content = schema.raw_schema["paths"][path][method.lower()]["requestBody"]["content"]
        content["application/json"]["example"] = example
    return schema


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request):
    """schemathesis 4.32's lazy schemas read and rewrite ``Node._nodeid`` (to name the
    operation in reports), which pytest 9.2 no longer has: give it one to work with."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


def _asks_for_envelope(body: Any) -> bool:
    return isinstance(body, dict) and body.get("envelope") is True


def _media_type(response) -> str:
    for name, values in response.headers.items():
        if name.lower() == "content-type" and values:
            return values[0].split(";")[0].strip().lower()
    return ""


schema = schemathesis.pytest.from_fixture("api_schema").exclude(path_regex=EXCLUDED_PATHS)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
def test_api_conforms_to_its_openapi_document(case, admin, seed):
    for name, value in list((case.path_parameters or {}).items()):
        seeded = seeded_value(case.path, case.method.upper(), name, seed)
        if seeded and _seeded_often(value):
            case.path_parameters[name] = seeded
    route = (case.method.upper(), case.path)
    checks = [getattr(schemathesis.checks, name) for name in CHECKS]
    if route == PROXY_CALL and not _asks_for_envelope(case.body):
        # Without envelope: true the answer is the upstream's own (status, media type and
        # body), as the operation says; only the envelope has a schema to check.
        checks = [schemathesis.checks.not_a_server_error]
    response = case.call_and_validate(headers=admin.headers, checks=checks)

    where = f"{case.method} {case.formatted_path} -> {response.status_code}"
    operation = case.operation.schema.raw_schema["paths"][case.path][case.method.lower()]
    declared = set(operation["responses"]) - {"default"}
    assert str(response.status_code) in declared, (
        f"{where}, which the operation does not declare ({sorted(declared)}): "
        f"{response.text_lossy()[:500]}")
    if _media_type(response) == "application/hal+json":
        problems = link_problems(response.json(), set(RELATIONS))
        assert not problems, f"{where}: {problems}"
    if route != PROXY_CALL:  # the test upstream echoes the credentials the hub sent it
        WATCH.check(f"answer to {where}", response.text_lossy())
        WATCH.check(f"answer to {where} (headers)", str(response.headers))
