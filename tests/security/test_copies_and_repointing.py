"""Secrets follow neither a copy nor a re-pointing (docs/security.md, "Copies and re-pointing").

A copy (``copyFrom``) carries the stored secrets only for callers with share access (level
3), the owner or a superuser; below that it carries the configuration alone and says so
(``hasApiKey: false`` ...). The fields that decide where credentials go change only with
share access too: a writer (level 2) is refused with 403 ``field_needs_share_access``
naming the field, and nothing is written.

The proofs are end to end: real loopback servers of the test's own stand for the
integration's real upstream and for an attacker's host (HTTP: tests/support/upstream.py;
databases: a listener speaking just enough of the PostgreSQL protocol to ask for the
password in clear text, as any server may), and each test checks what the attacker's
host received.
"""

from __future__ import annotations

import base64
import socket
import struct
import threading
from urllib.parse import unquote_plus

import pytest
from sqlalchemy import select

from integration_hub import create_app
from integration_hub.db.models import Integration
from tests.conftest import make_settings
from tests.secret_watch import WATCH, WatchedClient
from tests.support.forms import properties, submit, templates
from tests.support.problems import assert_problem

STORED_KEY = "stored-ledger-key-4471-qzv"
VICTIM_KEY = "victims-own-key-9902-kpw"
CLIENT_SECRET = "ledger-client-secret-3318-jtx"
DB_PASSWORD = "warehouse-db-password-6620-rmc"
VICTIM_REFRESH = "victims-refresh-token-5147-hdy"
SHARES = {"rita": 1, "walt": 2, "shay": 3, "vic": 1}
PEOPLE = ("rita", "walt", "shay", "vic", "olga")
DESTINATION_URIS = ("apiBaseUri", "authUri", "tokenUri", "userInfoUri", "revocationUri")


# -- the attacker's hosts ----------------------------------------------------------------------

@pytest.fixture
def attacker(attacker_server):
    attacker_server.reset()
    attacker_server.respond("/v1/accounts", {"json": {"accounts": []}}, sticky=True)
    attacker_server.respond("/token", {"json": {"access_token": "attacker-issued-access",
                                                "token_type": "Bearer", "expires_in": 3600}},
                            sticky=True)
    yield attacker_server
    attacker_server.reset()


def secrets_seen(server, *secrets: str) -> list[str]:
    """The secrets found anywhere in what ``server`` received: request line, headers (Basic
    credentials decoded), body (form encoding decoded)."""
    texts = []
    for received in server.requests():
        texts += [received.raw_target, unquote_plus(received.raw_target)]
        for _, value in received.headers:
            texts.append(value)
            if value.lower().startswith("basic "):
                texts.append(base64.b64decode(value[6:] + "==").decode("latin-1"))
        body = received.body.decode("latin-1")
        texts += [body, unquote_plus(body)]
    return [secret for secret in secrets if any(secret in text for text in texts)]


class PasswordCatcher:
    """A loopback TCP server speaking just enough PostgreSQL (protocol 3) to ask a client
    for its password in clear text and remember what it is given; every login then fails."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.passwords: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._login, args=(connection,), daemon=True).start()

    def _login(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(10)
            try:
                while True:  # SSLRequest / GSSENCRequest are declined, then the StartupMessage
                    length, = struct.unpack("!I", _exactly(connection, 4))
                    code, = struct.unpack("!I", _exactly(connection, length - 4)[:4])
                    if code not in (80877103, 80877104):
                        break
                    connection.sendall(b"N")
                connection.sendall(b"R" + struct.pack("!II", 8, 3))  # cleartext password
                if _exactly(connection, 1) == b"p":
                    length, = struct.unpack("!I", _exactly(connection, 4))
                    self.passwords.append(_exactly(connection, length - 4).rstrip(b"\0").decode())
                error = b"SFATAL\0C28P01\0Mpassword authentication failed\0\0"
                connection.sendall(b"E" + struct.pack("!I", len(error) + 4) + error)
            except (OSError, struct.error, UnicodeDecodeError):
                pass

    def data(self) -> dict:
        return {"host": "127.0.0.1", "port": self.port, "database": "sales"}

    def reset(self) -> None:
        self.passwords.clear()

    def stop(self) -> None:
        self._listener.close()


def _exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        piece = connection.recv(size - len(data))
        if not piece:
            raise OSError("closed")
        data += piece
    return data


@pytest.fixture(scope="module")
def catchers():
    """Two password catchers: the database the integration really uses, the attacker's."""
    made = {"real": PasswordCatcher(), "attacker": PasswordCatcher()}
    yield made
    for catcher in made.values():
        catcher.stop()


@pytest.fixture
def databases(catchers):
    for catcher in catchers.values():
        catcher.reset()
    return catchers


# -- people ------------------------------------------------------------------------------------

@pytest.fixture
def people(make_caller, admin):
    """rita reads (1), walt writes (2), shay shares (3), vic reads and is the victim, olga
    owns; every one of them may register integrations, so each may try a copy."""
    made = {name: make_caller(name, permissions=["integrations.create"]) for name in PEOPLE}
    made["root"] = admin
    return made


def ledger_values(upstream, **values) -> dict:
    return {"owner": "olga", "shares": SHARES, "type": "custom", "auth_type": "apikey",
            "mode": "shared", "api_base_uri": f"{upstream.url}/v1", "api_key": STORED_KEY,
            "api_key_name": "X-Api-Key", "client_id": "ledger-client",
            "client_secret": CLIENT_SECRET, "credentials": {"password": DB_PASSWORD},
            "description": "The books", **values}


# -- copies ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("copier", "with_secrets"), [
    ("rita", False), ("walt", False), ("shay", True), ("olga", True), ("root", True)])
def test_a_copy_carries_the_secrets_only_for_share_access(client, session, people,
                                                          make_integration, upstream,
                                                          copier, with_secrets):
    source = make_integration("Ledger", **ledger_values(upstream))
    caller = people[copier]

    answer = client.post("/api/integrations", headers=caller.headers,
                         json={"copyFrom": source})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    copy = answer.get_json()

    flags = {flag: copy[flag] for flag in ("hasApiKey", "hasClientSecret", "hasCredentials")}
    assert flags == dict.fromkeys(flags, with_secrets)
    stored = session.scalars(select(Integration).where(Integration.id == copy["id"])).one()
    encrypted = (stored.api_key_encrypted, stored.client_secret_encrypted,
                 stored.credentials_encrypted)
    assert [value is not None for value in encrypted] == [with_secrets] * 3
    # The configuration is copied whatever the level.
    assert (copy["description"], copy["clientId"], copy["apiKeyName"], copy["authType"]) == (
        "The books", "ledger-client", "X-Api-Key", "apikey")
    assert copy["ownerId"] == copier


@pytest.mark.parametrize(("copier", "share_access"), [
    ("rita", False), ("walt", False), ("shay", True), ("olga", True), ("root", True)])
def test_a_copy_pointed_elsewhere_carries_no_secret_sent_there(client, people, make_integration,
                                                               upstream, attacker, copier,
                                                               share_access):
    """Copying and re-pointing in one request is a re-pointing: whatever the copier's
    access, the secrets sent to the moved field stay behind; the database password, sent
    to no field that moved, comes along for share access."""
    source = make_integration("Ledger", **ledger_values(upstream))
    caller = people[copier]

    answer = client.post("/api/integrations", headers=caller.headers,
                         json={"copyFrom": source, "apiBaseUri": f"{attacker.url}/v1"})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    copy = answer.get_json()
    # The copier's own copy, pointed at their host, called at once with the key, then
    # with basic auth (the client secret as password).
    path = f"/api/integrations/{copy['id']}"
    client.post(f"{path}/request", headers=caller.headers, json={"url": "accounts"})
    assert client.patch(path, headers=caller.headers,
                        json={"authType": "basic"}).status_code == 200
    client.post(f"{path}/request", headers=caller.headers, json={"url": "accounts"})

    assert secrets_seen(attacker, STORED_KEY, CLIENT_SECRET, DB_PASSWORD) == []
    assert (copy["hasApiKey"], copy["hasClientSecret"], copy["hasCredentials"]) == (
        False, False, share_access)


def test_a_readers_copy_of_a_database_leaves_the_password_behind(client, people,
                                                                 make_integration, databases):
    source = make_integration("Warehouse", owner="olga", shares=SHARES, type="postgresql",
                              auth_type="none", mode="shared", data=databases["real"].data(),
                              credentials={"username": "reporter", "password": DB_PASSWORD})
    rita = people["rita"]

    answer = client.post("/api/integrations", headers=rita.headers,
                         json={"copyFrom": source, "data": databases["attacker"].data()})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    copy = answer.get_json()
    client.post(f"/api/integrations/{copy['id']}/query", headers=rita.headers,
                json={"sql": "SELECT 1"})

    assert databases["attacker"].passwords == []
    assert copy["hasCredentials"] is False


# -- re-pointing: end to end ---------------------------------------------------------------------

def test_a_writer_cannot_send_the_stored_key_or_a_users_key_elsewhere(client, people,
                                                                      make_integration,
                                                                      upstream, attacker):
    upstream.respond("/v1/accounts", {"json": {"accounts": []}}, sticky=True)
    ledger = make_integration("Ledger", **ledger_values(upstream, mode="per-user"))
    path = f"/api/integrations/{ledger}"
    walt, vic = people["walt"], people["vic"]
    WATCH.remember([VICTIM_KEY])
    connected = client.post(f"{path}/connect", headers=vic.headers, json={"apiKey": VICTIM_KEY})
    assert connected.status_code == 201, connected.get_data(as_text=True)

    attempts = [
        client.put(path, headers=walt.headers, json={"apiBaseUri": f"{attacker.url}/v1"}),
        client.patch(path, headers=walt.headers, json={"apiBaseUri": f"{attacker.url}/v1",
                                                       "description": "moved"}),
        client.put(path, headers=walt.headers,
                   json={"data": {"allowedHosts": [f"127.0.0.1:{attacker.port}"]}}),
    ]
    # Everyone's next calls: vic's with their own key, walt's with the stored one.
    client.post(f"{path}/request", headers=vic.headers, json={"url": "accounts"})
    client.post(f"{path}/request", headers=vic.headers, json={"url": f"{attacker.url}/v1/accounts"})
    client.post(f"{path}/request", headers=walt.headers, json={"url": "accounts"})

    assert secrets_seen(attacker, STORED_KEY, VICTIM_KEY) == []
    for answer, field in zip(attempts, ("apiBaseUri", "apiBaseUri", "data.allowedHosts"),
                             strict=True):
        assert answer.status_code == 403, answer.get_data(as_text=True)
        problem = answer.get_json()
        assert problem["code"] == "field_needs_share_access"
        assert list(problem["errors"]) == [field]
    assert [r.header("X-Api-Key") for r in upstream.requests("/v1/accounts")] == [
        VICTIM_KEY, STORED_KEY]
    assert client.get(path, headers=walt.headers).get_json()["description"] == "The books"


def test_a_writer_cannot_send_refresh_tokens_or_the_client_secret_elsewhere(client, people,
                                                                            make_integration,
                                                                            upstream, attacker):
    upstream.respond("/token", {"json": {"access_token": "fresh-access-0001",
                                         "token_type": "Bearer", "expires_in": 3600}},
                     sticky=True)
    books = make_integration("Books", owner="olga", shares=SHARES, type="custom",
                             auth_type="oauth2", mode="per-user",
                             auth_uri=f"{upstream.url}/authorize",
                             token_uri=f"{upstream.url}/token",
                             revocation_uri=f"{upstream.url}/revoke",
                             api_base_uri=f"{upstream.url}/v1", client_id="books-client",
                             client_secret=CLIENT_SECRET)
    path = f"/api/integrations/{books}"
    walt, vic = people["walt"], people["vic"]
    connected = client.post(f"{path}/connect", headers=vic.headers, json={
        "accessToken": "vics-access-token-0000", "refreshToken": VICTIM_REFRESH,
        "expiresIn": 3600})
    assert connected.status_code == 201, connected.get_data(as_text=True)

    attempts = [client.put(path, headers=walt.headers, json={field: f"{attacker.url}/token"})
                for field in ("tokenUri", "revocationUri", "userInfoUri")]
    client.post(f"{path}/connection/refresh", headers=vic.headers)
    client.delete(f"{path}/connection", headers=vic.headers)  # revokes the tokens

    assert secrets_seen(attacker, CLIENT_SECRET, VICTIM_REFRESH) == []
    assert [answer.status_code for answer in attempts] == [403, 403, 403]
    assert [answer.get_json()["code"] for answer in attempts] == ["field_needs_share_access"] * 3
    assert secrets_seen(upstream, CLIENT_SECRET, VICTIM_REFRESH) == [CLIENT_SECRET,
                                                                     VICTIM_REFRESH]


def test_a_writer_cannot_send_the_database_password_elsewhere(client, people, make_integration,
                                                              databases):
    warehouse = make_integration("Warehouse", owner="olga", shares=SHARES, type="postgresql",
                                 auth_type="none", mode="shared", data=databases["real"].data(),
                                 credentials={"username": "reporter", "password": DB_PASSWORD})
    path = f"/api/integrations/{warehouse}"
    walt, vic = people["walt"], people["vic"]

    moved = client.put(path, headers=walt.headers, json={"data": databases["attacker"].data()})
    client.post(f"{path}/query", headers=vic.headers, json={"sql": "SELECT 1"})

    assert databases["attacker"].passwords == []
    assert databases["real"].passwords == [DB_PASSWORD]
    assert moved.status_code == 403
    assert moved.get_json()["errors"] == {
        "data.port": ["changing it needs share access (level 3) or ownership"]}


# -- re-pointing with share access: the stored secrets stay behind -----------------------------

NEW_SECRET = "shays-own-client-secret-5530-vbg"


def books(make_integration, upstream) -> str:
    """olga's OAuth integration on ``upstream``, whose stored client secret is hers."""
    upstream.respond("/token", {"json": {"access_token": "fresh-access-0001",
                                         "token_type": "Bearer", "expires_in": 3600}},
                     sticky=True)
    return make_integration("Books", owner="olga", shares=SHARES, type="custom",
                            auth_type="oauth2", mode="per-user",
                            auth_uri=f"{upstream.url}/authorize",
                            token_uri=f"{upstream.url}/token",
                            revocation_uri=f"{upstream.url}/revoke",
                            api_base_uri=f"{upstream.url}/v1", client_id="books-client",
                            client_secret=CLIENT_SECRET)


@pytest.mark.parametrize(("change", "new_secret"), [
    ("tokenUri", None), ("revocationUri", None), ("both", None), ("both", NEW_SECRET)])
def test_share_access_re_points_but_the_stored_client_secret_stays_behind(
        client, people, make_integration, upstream, attacker, change, new_secret):
    integration = books(make_integration, upstream)
    path = f"/api/integrations/{integration}"
    shay, vic = people["shay"], people["vic"]
    fields = {"tokenUri": f"{attacker.url}/token", "revocationUri": f"{attacker.url}/revoke"}
    body = fields if change == "both" else {change: fields[change]}
    WATCH.remember([NEW_SECRET])

    moved = client.patch(path, headers=shay.headers,
                         json={**body, **({"clientSecret": new_secret} if new_secret else {})})
    assert moved.status_code == 200, moved.get_data(as_text=True)
    client.post(f"{path}/connect", headers=vic.headers, json={"code": "vics-code"})
    client.delete(f"{path}/connection", headers=vic.headers)  # revokes the tokens

    assert attacker.requests(), "the attacker's host was never called"
    expected = [NEW_SECRET] if new_secret else []
    assert secrets_seen(attacker, CLIENT_SECRET, NEW_SECRET) == expected
    assert moved.get_json()["hasClientSecret"] is bool(new_secret)


def test_share_access_re_points_the_api_but_the_stored_key_stays_behind(
        client, people, make_integration, upstream, attacker):
    ledger = make_integration("Ledger", **ledger_values(upstream))
    path = f"/api/integrations/{ledger}"
    shay = people["shay"]

    moved = client.patch(path, headers=shay.headers, json={"apiBaseUri": f"{attacker.url}/v1"})
    assert moved.status_code == 200, moved.get_data(as_text=True)
    client.post(f"{path}/request", headers=shay.headers, json={"url": "accounts"})
    assert client.patch(path, headers=shay.headers, json={"authType": "basic"}).status_code == 200
    client.post(f"{path}/request", headers=shay.headers, json={"url": "accounts"})

    assert secrets_seen(attacker, STORED_KEY, CLIENT_SECRET, DB_PASSWORD) == []
    body = moved.get_json()
    # The database password goes to none of the moved fields: it stays.
    assert (body["hasApiKey"], body["hasClientSecret"], body["hasCredentials"]) == (
        False, False, True)


def test_share_access_re_points_a_database_but_the_password_stays_behind(
        client, people, make_integration, databases):
    warehouse = make_integration("Warehouse", owner="olga", shares=SHARES, type="postgresql",
                                 auth_type="none", mode="shared", data=databases["real"].data(),
                                 credentials={"username": "reporter", "password": DB_PASSWORD})
    path = f"/api/integrations/{warehouse}"
    shay = people["shay"]

    moved = client.put(path, headers=shay.headers, json={"data": databases["attacker"].data()})
    assert moved.status_code == 200, moved.get_data(as_text=True)
    client.post(f"{path}/query", headers=shay.headers, json={"sql": "SELECT 1"})

    assert DB_PASSWORD not in databases["attacker"].passwords
    assert moved.get_json()["hasCredentials"] is False


# -- re-pointing: every field that decides where credentials go --------------------------------

HTTP_BASE = {"type": "custom", "auth_type": "oauth2", "mode": "per-user",
             "auth_uri": "https://id.example.com/authorize",
             "token_uri": "https://id.example.com/token",
             "user_info_uri": "https://id.example.com/userinfo",
             "revocation_uri": "https://id.example.com/revoke",
             "api_base_uri": "https://api.example.com/v1", "client_id": "ledger-client",
             "client_secret": CLIENT_SECRET,
             "data": {"allowedHosts": ["files.example.com"], "timeout": 5}}
DB_DATA = {"dialect": "postgresql", "host": "db.example.com", "port": 5432, "database": "sales",
           "sslmode": "verify-full", "options": {"connect_timeout": "5"}}
DB_BASE = {"type": "database", "auth_type": "none", "mode": "shared", "data": DB_DATA,
           "credentials": {"username": "reporter", "password": DB_PASSWORD}}
ELSEWHERE = "https://attacker.example.net"

# (field named in the refusal, integration, change)
REPOINTINGS = [
    ("apiBaseUri", HTTP_BASE, {"apiBaseUri": f"{ELSEWHERE}/v1"}),
    ("apiBaseUri", HTTP_BASE, {"apiBaseUri": "https://api.example.com/v1/../../x"}),
    ("authUri", HTTP_BASE, {"authUri": f"{ELSEWHERE}/authorize"}),
    ("tokenUri", HTTP_BASE, {"tokenUri": f"{ELSEWHERE}/token"}),
    ("userInfoUri", HTTP_BASE, {"userInfoUri": f"{ELSEWHERE}/userinfo"}),
    ("revocationUri", HTTP_BASE, {"revocationUri": f"{ELSEWHERE}/revoke"}),
    ("data.allowedHosts", HTTP_BASE,
     {"data": {"allowedHosts": ["files.example.com", "attacker.example.net"], "timeout": 5}}),
    ("data.credentialOrigins", HTTP_BASE,
     {"data": {"allowedHosts": ["files.example.com"], "timeout": 5,
               "credentialOrigins": ["https://files.example.com"]}}),
    ("data.host", DB_BASE, {"data": {**DB_DATA, "host": "attacker.example.net"}}),
    ("data.port", DB_BASE, {"data": {**DB_DATA, "port": 6543}}),
    ("data.dialect", DB_BASE, {"data": {**DB_DATA, "dialect": "mysql"}}),
    ("type", DB_BASE, {"type": "mysql"}),
    # sslmode in the options overrides data.sslmode: the password would travel unprotected.
    ("data.options", DB_BASE,
     {"data": {**DB_DATA, "options": {"connect_timeout": "5", "sslmode": "disable"}}}),
    ("data.sslmode", DB_BASE, {"data": {**DB_DATA, "sslmode": "disable"}}),
    # Shared mode would let every reader query with the password stored on the integration.
    ("mode", {**DB_BASE, "mode": "per-user"}, {"mode": "shared"}),
    ("mode", HTTP_BASE, {"mode": "shared"}),
]


def test_every_field_deciding_where_credentials_go_needs_share_access(client, people, admin,
                                                                      make_integration):
    """For each row: the writer is refused and nothing changes; share access makes the
    change; the writer may then send that same value again (it is no change)."""
    problems = []
    for n, (field, base, change) in enumerate(REPOINTINGS):
        integration = make_integration(f"Target {n}", owner="olga", shares=SHARES, **base)
        path = f"/api/integrations/{integration}"
        before = client.get(path, headers=admin.headers).get_json()

        refused = client.put(path, headers=people["walt"].headers,
                             json={**change, "description": "changed by walt"})
        problem = refused.get_json()
        if (refused.status_code, problem.get("code")) != (403, "field_needs_share_access") \
                or field not in (problem.get("errors") or {}):
            problems.append(f"{field} {change}: writer got {refused.status_code} {problem}")
        if client.get(path, headers=admin.headers).get_json() != before:
            problems.append(f"{field} {change}: the refused change was written")

        allowed = client.put(path, headers=people["shay"].headers, json=change)
        if allowed.status_code != 200:
            problems.append(f"{field} {change}: share access got {allowed.status_code} "
                            f"{allowed.get_data(as_text=True)}")
        again = client.put(path, headers=people["walt"].headers,
                           json={**change, "description": "same values, new words"})
        if again.status_code != 200:
            problems.append(f"{field} {change}: the same value again got {again.status_code} "
                            f"{again.get_data(as_text=True)}")
    assert not problems, "\n".join(problems)


# A PATCH merges ``data`` into the stored object (docs/api-conventions.md): the merged
# whole is what the rules see, so a member added, changed or removed by a merge patch is
# refused exactly as the same whole sent by PUT.
MERGE_PATCHES = [
    ("data.allowedHosts", HTTP_BASE, {"data": {"allowedHosts": ["attacker.example.net"]}}),
    ("data.allowedHosts", HTTP_BASE, {"data": {"allowedHosts": None}}),
    ("data.credentialOrigins", HTTP_BASE,
     {"data": {"credentialOrigins": ["https://files.example.com"]}}),
    ("data.host", DB_BASE, {"data": {"host": "attacker.example.net"}}),
    ("data.port", DB_BASE, {"data": {"port": 6543}}),
    ("data.options", DB_BASE, {"data": {"options": {"sslmode": "disable"}}}),
    ("data.sslmode", DB_BASE, {"data": {"sslmode": None}}),
]


@pytest.mark.parametrize("field, base, patch", MERGE_PATCHES,
                         ids=[f"{field}-{n}" for n, (field, _, _) in enumerate(MERGE_PATCHES)])
def test_a_merge_patch_moving_credentials_needs_share_access(client, people, admin,
                                                             make_integration, field, base, patch):
    integration = make_integration("Patched", owner="olga", shares=SHARES, **base)
    path = f"/api/integrations/{integration}"
    before = client.get(path, headers=admin.headers).get_json()

    refused = client.patch(path, headers=people["walt"].headers,
                           json={**patch, "description": "changed by walt"})

    assert refused.status_code == 403, refused.get_data(as_text=True)
    assert refused.get_json()["code"] == "field_needs_share_access"
    assert field in refused.get_json()["errors"]
    assert client.get(path, headers=admin.headers).get_json() == before
    allowed = client.patch(path, headers=people["shay"].headers, json=patch)
    assert allowed.status_code == 200, allowed.get_data(as_text=True)


def test_a_writers_merge_patch_of_other_members_keeps_where_credentials_go(
        client, people, admin, make_integration):
    integration = make_integration("Patched", owner="olga", shares=SHARES, **DB_BASE)
    path = f"/api/integrations/{integration}"

    changed = client.patch(path, headers=people["walt"].headers,
                           json={"data": {"database": "archive"}})

    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert changed.get_json()["data"] == {**DB_DATA, "database": "archive"}
    assert changed.get_json()["hasCredentials"] is True  # nothing moved: the password stays


def test_no_one_removes_a_database_host(client, people, admin, make_integration):
    """Without a host libpq would take the hub's own unix socket: a writer needs share access
    to try, and share access is refused too (docs/security.md, "Database hosts and logins")."""
    integration = make_integration("Sales DB", owner="olga", shares=SHARES, **DB_BASE)
    path = f"/api/integrations/{integration}"
    before = client.get(path, headers=admin.headers).get_json()
    without_host = {"data": {k: v for k, v in DB_DATA.items() if k != "host"}}

    refused = client.put(path, headers=people["walt"].headers, json=without_host)
    assert_problem(refused, 403, "field_needs_share_access")
    refused = client.put(path, headers=people["shay"].headers, json=without_host)
    body = assert_problem(refused, 422, "database_host_not_allowed")
    assert "data.host" in body["errors"], body
    assert client.get(path, headers=admin.headers).get_json() == before


def test_a_writer_changes_everything_else(client, people, make_integration):
    integration = make_integration("Ledger", owner="olga", shares=SHARES, **HTTP_BASE)
    answer = client.put(f"/api/integrations/{integration}", headers=people["walt"].headers, json={
        "name": "Ledger 2", "description": "new", "scope": "read", "headers": {"X-Team": "books"},
        "clientId": "other-client", "clientSecret": "a-new-client-secret-8891",
        "apiBaseUri": HTTP_BASE["api_base_uri"],
        "data": {"allowedHosts": ["FILES.example.com"], "timeout": 30, "healthCheck": "/me"}})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["data"]["timeout"] == 30


@pytest.fixture(scope="module")
def sqlite_root(tmp_path_factory):
    return tmp_path_factory.mktemp("sqlite-root").resolve()


@pytest.fixture(scope="module")
def sqlite_app(migrated_app, sqlite_root, tmp_path_factory):
    """The hub with HUB_SQLITE_ROOT set, on the same database as ``app``."""
    settings = make_settings(migrated_app.config["HUB_SETTINGS"].database_url,
                             tmp_path_factory.mktemp("instance"), HUB_SQLITE_ROOT=str(sqlite_root))
    configured = create_app(settings)
    configured.test_client_class = WatchedClient
    return configured


@pytest.fixture
def sqlite_hub(app, sqlite_app):
    return sqlite_app.test_client()


def test_a_writer_cannot_move_a_sqlite_integration_to_another_file(sqlite_hub, people, admin):
    created = sqlite_hub.post("/api/integrations", headers=admin.headers, json={
        "name": "Books file", "type": "sqlite", "data": {"path": "books.db"}})
    assert created.status_code == 201, created.get_data(as_text=True)
    path = f"/api/integrations/{created.get_json()['id']}"
    assert sqlite_hub.put(f"{path}/shares/walt", headers=admin.headers,
                          json={"accessLevel": 2}).status_code == 201

    moved = sqlite_hub.put(path, headers=people["walt"].headers,
                           json={"data": {"path": "payroll.db"}})
    assert moved.status_code == 403
    assert moved.get_json()["errors"] == {
        "data.path": ["changing it needs share access (level 3) or ownership"]}
    assert sqlite_hub.put(path, headers=admin.headers,
                          json={"data": {"path": "payroll.db"}}).status_code == 200


# -- the writer's form -----------------------------------------------------------------------------

def test_a_writers_form_shows_where_credentials_go_read_only(client, people, make_integration):
    ledger = make_integration("Ledger", owner="olga", shares=SHARES, **HTTP_BASE)
    warehouse = make_integration("Warehouse", owner="olga", shares=SHARES, **DB_BASE)

    for who, read_only in (("walt", True), ("shay", False), ("olga", False)):
        fields = properties(templates(client, people[who], f"/api/integrations/{ledger}")["default"])
        for name in (*DESTINATION_URIS, "mode"):
            assert fields[name].get("readOnly", False) is read_only, (who, name)
        assert "readOnly" not in fields["description"]
        assert fields["apiBaseUri"]["value"] == HTTP_BASE["api_base_uri"]
    database_form = templates(client, people["walt"], f"/api/integrations/{warehouse}")["default"]
    assert properties(database_form)["type"]["readOnly"] is True

    # walt fills in the form as offered: every value it shows, and new words.
    form = templates(client, people["walt"], f"/api/integrations/{ledger}")["default"]
    shown = {p["name"]: p["value"] for p in form["properties"] if "value" in p}
    answer = submit(client, people["walt"], form, **{**shown, "description": "walt's words"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
