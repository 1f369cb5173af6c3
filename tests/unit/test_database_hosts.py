"""Which database hosts the hub connects to, and when a target is the hub's own database."""

import pytest

from integration_hub.databases.hosts import (
    HubDatabase,
    host_problem,
    login_problems,
    port_of,
    reaches_this_machine,
)


@pytest.mark.parametrize("host", [
    "db.example.com", "db", "DB-1.internal.", "my_db", "127.0.0.1", "10.0.0.5", "::1",
    "2001:db8::7", "::ffff:10.0.0.1", "a" * 63 + ".example.com",
])
def test_host_names_and_addresses(host):
    assert host_problem(host) is None


@pytest.mark.parametrize("host", [
    None, 5432, "", "  ", "/var/run/postgresql", "/tmp/", "@abstract", "a,b", "a b",
    "db.example.com,/tmp", "host=/tmp", "[::1]", "fe80::1%eth0", "db:5432", "-db", "db-",
    "a..b", "a" * 64 + ".example.com", "2130706433", "127.1", "0x7f.1", "0x7f000001", "db\n",
    "ünïcode.example", "db/../x",
])
def test_anything_else_is_not_a_host(host):
    assert host_problem(host)


@pytest.mark.parametrize("dialect, port, expected", [
    ("postgresql", None, 5432), ("mysql", None, 3306), ("mysql", "", 3306),
    ("postgresql", 6543, 6543), ("postgresql", "6543", 6543), ("postgresql", 0, None),
    ("postgresql", 65536, None), ("postgresql", "5432,5433", None), ("postgresql", True, None),
    ("postgresql", 5432.5, None), ("postgresql", "-1", None),
])
def test_ports(dialect, port, expected):
    assert port_of(dialect, port) == expected


def test_login_needs_every_part():
    assert login_problems("shop", "reader", "pw") == {}
    assert set(login_problems(None, "", None)) == {"data.database", "username", "password"}
    assert set(login_problems("shop", "reader", "")) == {"password"}
    assert set(login_problems("shop", 7, "pw")) == {"username"}


@pytest.mark.parametrize("addresses, local", [
    (["127.0.0.1"], True), (["127.8.9.1"], True), (["::1"], True), (["0.0.0.0"], True),
    (["::"], True), (["::ffff:127.0.0.1"], True), (["10.0.0.1", "::1"], True),
    (["10.0.0.1"], False), (["2001:db8::1"], False), ([], False),
])
def test_addresses_of_this_machine(addresses, local):
    assert reaches_this_machine(addresses) is local


def test_the_hubs_database_is_read_from_its_url():
    assert HubDatabase.of("postgresql+psycopg://hub:pw@db.internal:6543/hub") == HubDatabase(
        "postgresql", "db.internal", 6543, "hub")
    assert HubDatabase.of("postgresql+psycopg://hub@/hub?host=/var/run/postgresql") == \
        HubDatabase("postgresql", None, 5432, "hub")
    assert HubDatabase.of("mysql+pymysql://hub:pw@10.0.0.5/hub") == HubDatabase(
        "mysql", "10.0.0.5", 3306, "hub")
    assert HubDatabase.of("sqlite:////var/lib/hub/hub.db") is None


LOCAL_PG = HubDatabase("postgresql", "localhost", 5432, "hub")
REMOTE_PG = HubDatabase("postgresql", "10.0.0.5", 5432, "hub")
REMOTE_MYSQL = HubDatabase("mysql", "10.0.0.5", 3306, "hub")


@pytest.mark.parametrize("hub, target, same", [
    # (dialect, host, port, database, the addresses the host answered)
    (LOCAL_PG, ("postgresql", "127.0.0.1", 5432, "hub", ["127.0.0.1"]), True),
    (LOCAL_PG, ("postgresql", "db.hub.test", 5432, "hub", ["::1"]), True),
    (LOCAL_PG, ("postgresql", "0.0.0.0", 5432, "hub", ["0.0.0.0"]), True),
    (LOCAL_PG, ("postgresql", "127.0.0.1", 5432, "shop", ["127.0.0.1"]), False),
    (LOCAL_PG, ("postgresql", "127.0.0.1", 5433, "hub", ["127.0.0.1"]), False),
    (LOCAL_PG, ("mysql", "127.0.0.1", 5432, "hub", ["127.0.0.1"]), False),
    (REMOTE_PG, ("postgresql", "10.0.0.5", 5432, "hub", ["10.0.0.5"]), True),
    (REMOTE_PG, ("postgresql", "hub-db.hub.test", 5432, "hub", ["10.0.0.5"]), True),
    (REMOTE_PG, ("postgresql", "10.0.0.6", 5432, "hub", ["10.0.0.6"]), False),
    # a MySQL account reaches every database of its server: the name does not matter
    (REMOTE_MYSQL, ("mysql", "10.0.0.5", 3306, "shop", ["10.0.0.5"]), True),
    (REMOTE_MYSQL, ("mysql", "10.0.0.6", 3306, "hub", ["10.0.0.6"]), False),
])
def test_the_hubs_own_database_is_recognised(hub, target, same):
    dialect, host, port, database, addresses = target
    assert hub.is_target(dialect, host, port, database, addresses) is same
