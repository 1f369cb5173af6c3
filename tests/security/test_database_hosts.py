"""A database integration reaches the server it names over TCP, logs in with what it gives, and
nothing of the hub's machine: no socket, no file, no variable, no ticket, no private address.

libpq fills every gap from the machine it runs on: a host starting with ``/`` or ``@`` is a unix
socket (where PostgreSQL may trust the hub's OS user), ``a,b`` a list of servers, and a missing
user, password or database comes from ``PGUSER``/``PGPASSWORD``/``PGDATABASE``, ``~/.pgpass``,
``PGPASSFILE`` or a service file; ``~/.postgresql/postgresql.crt`` is presented as the client's
certificate. So a user with ``integrations.create`` could log in as the hub. The servers here
are the real PostgreSQL and MariaDB, and a fake PostgreSQL on loopback
(tests/support/fake_postgres.py) that records what a client sends to log in; host names are
answered by a stand-in for the system resolver (tests/support/dns.py), the network edge.
"""

from __future__ import annotations

import os
import secrets

import pytest
from sqlalchemy.engine import make_url

from integration_hub.databases import queries as dbquery
from integration_hub.identity import directory as identity
from tests import factories
from tests.secret_watch import WATCH
from tests.security import test_database_drivers as drivers
from tests.support.fake_mysql import FakeMysql
from tests.support.fake_postgres import FakePostgres, client_certificate
from tests.support.problems import assert_problem

# The database drivers' fixtures and helpers: the same targets, integrations and calls.
targets, make_db = drivers.targets, drivers.make_db
check, query, store_data = drivers.check, drivers.query, drivers.store_data

HOST_REFUSED = "database_host_not_allowed"
LOGIN_INCOMPLETE = "database_login_incomplete"
ADDRESS_DENIED = "database_address_denied"
HUB_DATABASE = "database_is_hub_database"
PASSWORD = "pw-given-by-the-integration"


def create(client, caller, type_: str, data: dict, **values):
    return client.post("/api/integrations", headers=caller.headers, json={
        "name": "Target DB", "type": type_, "authType": "none", "mode": "shared", "data": data,
        **values})


def nothing_listed(client, caller) -> None:
    assert client.get("/api/integrations-list", headers=caller.headers).get_json() == []


def refused_on_use(client, caller, integration: str, code: str, status: int = 422) -> None:
    """Query and schema answer the problem; ``POST .../test`` answers it or reports it."""
    assert_problem(query(client, caller, integration, "SELECT 1 AS one"), status, code)
    assert_problem(client.get(f"/api/integrations/{integration}/schema", headers=caller.headers),
                   status, code)
    tested = check(client, caller, integration)
    if tested.status_code == 200:
        assert tested.get_json()["ok"] is False and tested.get_json()["code"] == code, \
            tested.get_json()
    else:
        assert_problem(tested, status, code)


# -- hosts: a host name or an IP address, nothing else ----------------------------------------

NOT_HOSTS = [
    "/var/run/postgresql",              # a unix socket directory
    "/tmp",
    "@hub-abstract",                    # a Linux abstract socket
    "db.example.com,/var/run/postgresql",  # a list, the second a socket
    "db.example.com /tmp",
    "host=/var/run/postgresql",
    "",
    "   ",
    "[::1]",
    "fe80::1%eth0",
    "db.example.com:5432",
    "2130706433",                       # inet_aton shorthands for 127.0.0.1
    "127.1",
    "0x7f000001",
]


@pytest.mark.parametrize("type_", ["postgresql", "mysql", "database"])
@pytest.mark.parametrize("host", NOT_HOSTS)
def test_only_host_names_and_addresses_are_saved(client, admin, type_, host):
    data = {"host": host, "port": 5432, "database": "shop", "username": "reader"}
    if type_ == "database":
        data["dialect"] = "postgresql"
    body = assert_problem(create(client, admin, type_, data), 422, HOST_REFUSED)
    assert "data.host" in body["errors"], body
    nothing_listed(client, admin)


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_a_database_integration_names_its_host(client, admin, dialect):
    data = {"dialect": dialect, "port": 5432, "database": "shop", "username": "reader"}
    body = assert_problem(create(client, admin, "database", data), 422, HOST_REFUSED)
    assert "data.host" in body["errors"], body


def test_a_stored_socket_host_is_refused_before_connecting(app, client, admin, make_db, targets):
    """Through the socket the local server trusts whoever connects; the password given here is
    wrong, and before the rule the query ran all the same."""
    target = targets("postgresql")
    integration = make_db("postgresql", target.data(username=target.reader), "not-the-password")
    for socket_host in ("/var/run/postgresql", "127.0.0.1,/var/run/postgresql"):
        store_data(app, integration, target.data(username=target.reader, host=socket_host))
        refused_on_use(client, admin, integration, HOST_REFUSED)


# -- logging in: what the integration gives, never the hub's own ----------------------------

@pytest.fixture
def fake_postgres():
    with FakePostgres() as server:
        yield server


@pytest.fixture
def hub_home(tmp_path, monkeypatch):
    """A home directory for the hub's process, as the OS user it runs as would have."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def _marker(kind: str) -> str:
    marker = f"hub-{kind}-{secrets.token_hex(6)}"
    WATCH.remember([marker])
    return marker


def _pgpass_line(password: str) -> str:
    return f"*:*:*:*:{password}\n"


# Each arranges what the hub's machine holds and leaves out what the integration would need.
MACHINE_HOLDS = {
    "PGPASSWORD": lambda env, home, m: env.setenv("PGPASSWORD", m),
    "PGPASSFILE": lambda env, home, m: (
        (home / "elsewhere.pgpass").write_text(_pgpass_line(m)),
        (home / "elsewhere.pgpass").chmod(0o600),
        env.setenv("PGPASSFILE", str(home / "elsewhere.pgpass"))),
    "~/.pgpass": lambda env, home, m: (
        (home / ".pgpass").write_text(_pgpass_line(m)), (home / ".pgpass").chmod(0o600)),
    "PGSERVICE": lambda env, home, m: (
        (home / "services.conf").write_text(f"[hub]\npassword={m}\n"),
        env.setenv("PGSERVICEFILE", str(home / "services.conf")), env.setenv("PGSERVICE", "hub")),
}


@pytest.mark.parametrize("holds", list(MACHINE_HOLDS))
def test_the_hubs_password_is_never_sent(client, admin, make_db, fake_postgres, hub_home,
                                         monkeypatch, holds):
    marker = _marker("password")
    MACHINE_HOLDS[holds](monkeypatch, hub_home, marker)
    integration = make_db("postgresql", {"host": "127.0.0.1", "port": fake_postgres.port,
                                         "database": "shop", "username": "reader"})
    body = assert_problem(query(client, admin, integration, "SELECT 1 AS one"), 422,
                          LOGIN_INCOMPLETE)
    assert "password" in body["errors"], body
    assert marker not in fake_postgres.passwords
    assert fake_postgres.connections == 0


@pytest.mark.parametrize("missing, variable", [("username", "PGUSER"),
                                               ("database", "PGDATABASE")])
def test_the_hubs_user_and_database_are_never_taken(app, client, admin, make_db,
                                                    fake_postgres, monkeypatch, missing,
                                                    variable):
    marker = _marker(missing)
    monkeypatch.setenv(variable, marker)
    data = {"host": "127.0.0.1", "port": fake_postgres.port, "database": "shop",
            "username": "reader"}
    integration = make_db("postgresql", data, PASSWORD)
    del data[missing]
    store_data(app, integration, data)  # the catalogue asks for a database; stored rows may lack it
    body = assert_problem(query(client, admin, integration, "SELECT 1 AS one"), 422,
                          LOGIN_INCOMPLETE)
    assert {"username": "username", "database": "data.database"}[missing] in body["errors"]
    assert fake_postgres.startups == [] and fake_postgres.connections == 0


@pytest.mark.parametrize("missing", ["username", "password"])
def test_mysql_logs_in_with_what_the_integration_gives(client, admin, make_db, tmp_path,
                                                       missing):
    """PyMySQL logs in as the hub's OS user when no user is given."""
    with FakeMysql(str(tmp_path / "unused")) as server:
        data = {"host": "127.0.0.1", "port": server.port, "database": "shop",
                "username": "reader"}
        if missing == "username":
            del data["username"]
        integration = make_db("mysql", data, None if missing == "password" else PASSWORD)
        body = assert_problem(query(client, admin, integration, "SELECT 1 AS one"), 422,
                              LOGIN_INCOMPLETE)
        assert missing in body["errors"], body
        assert server.connections == 0


@pytest.mark.parametrize("where", ["~/.postgresql", "PGSSLCERT"])
def test_the_hubs_client_certificate_is_never_presented(client, admin, make_db, hub_home,
                                                        tmp_path, monkeypatch, where):
    if where == "~/.postgresql":
        mine = client_certificate(hub_home / ".postgresql")
    else:
        mine = client_certificate(tmp_path / "certs")
        monkeypatch.setenv("PGSSLCERT", str(mine.certificate))
        monkeypatch.setenv("PGSSLKEY", str(mine.key))
    with FakePostgres.with_tls(tmp_path / "server", mine.ca) as server:
        integration = make_db("postgresql", {
            "host": "127.0.0.1", "port": server.port, "database": "shop", "username": "reader",
            "options": {"sslmode": "require"}}, PASSWORD)
        answer = query(client, admin, integration, "SELECT 1 AS one")
        assert_problem(answer, 502, "database_unreachable")  # the fake refuses every password
        assert server.passwords == [PASSWORD]
        assert server.client_certificates == [None], "the hub presented its machine's certificate"


def _conninfo(integration: str) -> dict[str, str]:
    """The parameters libpq used for the pooled connection of ``integration``."""
    [engine] = [engine for key, engine in dbquery.ENGINES._engines.items()
                if key[0] == integration]
    with engine.connect() as connection:
        info = connection.connection.driver_connection.pgconn.info
    return {option.keyword.decode(): (option.val or b"").decode() for option in info}


def test_libpq_is_told_to_use_nothing_of_the_hubs(client, admin, make_db, targets):
    import psycopg

    target = targets("postgresql")
    integration = make_db("postgresql", target.data(host="localhost"), target.password)
    answer = query(client, admin, integration, "SELECT count(*) AS n FROM items")
    assert answer.status_code == 200, answer.get_data(as_text=True)

    used = _conninfo(integration)
    nothing = os.path.join(os.devnull, "none")
    assert (used["passfile"], used["sslcert"], used["sslkey"]) == (nothing, nothing, nothing)
    assert used["gssencmode"] == "disable"
    if psycopg.pq.version() >= 160000:
        assert used["sslcertmode"] == "disable"
        assert used["require_auth"] == "!gss,!sspi"
    # pinned: libpq connects to the addresses the hub resolved, by name for TLS
    assert set(used["hostaddr"].split(",")) <= {"127.0.0.1", "::1"}
    assert set(used["host"].split(",")) == {"localhost"}


@pytest.mark.parametrize("value", ["prefer", "require"])
def test_gssapi_encryption_cannot_be_asked_for(client, admin, value):
    body = assert_problem(create(client, admin, "postgresql", {
        "host": "db.example.com", "database": "shop", "options": {"gssencmode": value}}),
        422, "database_option_not_allowed")
    assert "data.options.gssencmode" in body["errors"], body


# -- the outbound policy: decided on the resolved addresses, connected to those -----------------

POLICY_HOSTS = {
    "address": lambda dns: "127.0.0.1",
    "name": lambda dns: dns.add("db.hub.test", "127.0.0.1"),
    "name-with-a-public-address-first": lambda dns: dns.add("mixed.hub.test", "93.184.216.34",
                                                             "127.0.0.1"),
    "name-of-a-mapped-address": lambda dns: dns.add("mapped.hub.test", "::ffff:127.0.0.1"),
}


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
@pytest.mark.parametrize("host", list(POLICY_HOSTS))
def test_no_database_connection_goes_to_a_denied_address(guarded, dns, listener, make_db, admin,
                                                         dialect, host):
    integration = make_db(dialect, {"host": POLICY_HOSTS[host](dns), "port": listener.port,
                                    "database": "shop", "username": "reader"}, PASSWORD)
    hub = guarded.test_client()
    refused_on_use(hub, admin, integration, ADDRESS_DENIED, status=403)
    assert listener.accepted() == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.1.2.3", "169.254.169.254",
                                  "::ffff:127.0.0.1", "::1"])
def test_denied_addresses_are_refused_when_saved(guarded, admin, host):
    hub = guarded.test_client()
    answer = create(hub, admin, "postgresql", {"host": host, "port": 5432, "database": "shop",
                                               "username": "reader"})
    body = assert_problem(answer, 422, HOST_REFUSED)
    assert "HUB_PROXY_DENY_PRIVATE" in body["errors"]["data.host"][0], body


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_the_driver_connects_to_the_address_the_hub_checked(client, admin, dns, make_db, targets,
                                                            dialect):
    """The name answers the server's address once, then an address where nothing listens: the
    driver must not look the name up again (nor can libpq see this resolver at all)."""
    target = targets(dialect)
    name = dns.rebinding(f"{dialect}.hub.test", ["127.0.0.1"], ["127.0.0.3"])
    integration = make_db(dialect, target.data(host=name), target.password)
    answer = query(client, admin, integration, "SELECT count(*) AS n FROM items")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["rows"] == [[3]]
    assert dns.asked == [name]


# -- the hub's own database ----------------------------------------------------------------------

@pytest.fixture
def hub_database(app):
    url = make_url(app.config["HUB_SETTINGS"].database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("the hub's own database is SQLite in this run (see the postgresql run)")
    return url


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0.0.0.0"])
def test_the_hubs_own_database_is_not_an_integration(app, client, admin, make_db, targets,
                                                     hub_database, host):
    """Any role the server lets in would read the hub's tables from there; here the server
    trusts the loopback, so before the rule this integration queried the hub's database."""
    target = targets("postgresql")
    data = {"host": host, "port": hub_database.port or 5432,
            "database": hub_database.database, "username": target.reader}
    body = assert_problem(create(client, admin, "postgresql", data), 422, HUB_DATABASE)
    assert "data.host" in body["errors"], body

    integration = make_db("postgresql", target.data(username=target.reader),
                          target.reader_password)
    store_data(app, integration, data)
    refused_on_use(client, admin, integration, HUB_DATABASE)


def test_other_databases_of_the_hubs_server_are_integrations(client, admin, targets,
                                                             hub_database):
    target = targets("postgresql")
    created = create(client, admin, "postgresql", target.data(username=target.reader),
                     credentials={"password": target.reader_password})
    assert created.status_code == 201, created.get_data(as_text=True)
    integration = created.get_json()["id"]
    answer = query(client, admin, integration, "SELECT count(*) AS n FROM items")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    client.delete(f"/api/integrations/{integration}?force=true", headers=admin.headers)


def test_the_hubs_own_database_is_refused_in_per_user_mode_too(app, client, admin, targets,
                                                               hub_database):
    target = targets("postgresql")
    with app.app_context(), app.extensions["integration_hub.db"]() as session:
        creator = identity.get_user(session, admin.tenant, admin.username)
        integration = factories.integration(
            session, creator, "Per-user DB", type="postgresql", auth_type="none",
            mode="per-user", api_base_uri=None,
            data={k: v for k, v in target.data().items() if k != "username"})
        session.commit()
        integration_id = integration.id
    store_data(app, integration_id, {"host": "127.0.0.1", "port": hub_database.port or 5432,
                                     "database": hub_database.database})
    connected = client.post(f"/api/integrations/{integration_id}/connect", headers=admin.headers,
                            json={"username": target.reader,
                                  "password": target.reader_password})
    assert connected.status_code in (200, 201), connected.get_data(as_text=True)
    assert_problem(query(client, admin, integration_id, "SELECT 1 AS one"), 422, HUB_DATABASE)
    client.delete(f"/api/integrations/{integration_id}?force=true", headers=admin.headers)
