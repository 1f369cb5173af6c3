"""The allow-list of database driver options, as plain tables."""

import json
from pathlib import Path

import pytest

import integration_hub
from integration_hub.databases.options import ALLOWED, DatabaseOptionNotAllowed, as_text, problems, read

CATALOGUE_TYPES = Path(integration_hub.__file__).parent / "catalogue" / "types"


@pytest.mark.parametrize("dialect, given, driver_gets", [
    ("postgresql", {"connect_timeout": "5"}, {"connect_timeout": 5}),
    ("postgresql", {"connect_timeout": 60, "application_name": "Reports (eu-1)"},
     {"connect_timeout": 60, "application_name": "Reports (eu-1)"}),
    ("postgresql", {"sslmode": "verify-full", "sslsni": True, "channel_binding": "require"},
     {"sslmode": "verify-full", "sslsni": "1", "channel_binding": "require"}),
    ("postgresql", {"ssl_min_protocol_version": "TLSv1.3", "target_session_attrs": "read-only"},
     {"ssl_min_protocol_version": "TLSv1.3", "target_session_attrs": "read-only"}),
    ("mysql", {"connect_timeout": 1, "charset": "utf8mb4", "collation": "utf8mb4_bin"},
     {"connect_timeout": 1, "charset": "utf8mb4", "collation": "utf8mb4_bin"}),
    ("mysql", {"ssl_disabled": "false", "ssl_verify_cert": "1", "ssl_verify_identity": "yes"},
     {"ssl_disabled": False, "ssl_verify_cert": True, "ssl_verify_identity": True}),
    ("mysql", {"program_name": "hub"}, {"program_name": "hub"}),
    ("mysql", None, {}),
    ("mysql", {}, {}),
])
def test_allowed_options_become_driver_values(dialect, given, driver_gets):
    assert problems(dialect, given) == {}
    assert read(dialect, given) == driver_gets
    # what travels as URL text reads back to the same values
    assert read(dialect, {k: as_text(v) for k, v in driver_gets.items()}) == driver_gets


@pytest.mark.parametrize("dialect, given, refused", [
    ("mysql", {"local_infile": True}, "local_infile"),
    ("mysql", {"local_infile": "0"}, "local_infile"),  # not even to turn it off
    ("mysql", {"init_command": "SELECT 1"}, "init_command"),
    ("mysql", {"sql_mode": "ANSI_QUOTES"}, "sql_mode"),
    ("mysql", {"read_default_file": "/etc/mysql/my.cnf"}, "read_default_file"),
    ("mysql", {"unix_socket": "/run/mysqld/mysqld.sock"}, "unix_socket"),
    ("mysql", {"client_flag": 128}, "client_flag"),
    ("mysql", {"ssl_ca": "/etc/ssl/ca.pem"}, "ssl_ca"),
    ("mysql", {"read_timeout": 1}, "read_timeout"),
    ("mysql", {"user": "root"}, "user"),
    ("mysql", {"host": "10.0.0.1"}, "host"),
    ("postgresql", {"options": "-c default_transaction_read_only=off"}, "options"),
    ("postgresql", {"passfile": "/root/.pgpass"}, "passfile"),
    ("postgresql", {"service": "prod"}, "service"),
    ("postgresql", {"sslkey": "/etc/ssl/key.pem"}, "sslkey"),
    ("postgresql", {"sslrootcert": "/etc/ssl/ca.pem"}, "sslrootcert"),
    ("postgresql", {"hostaddr": "10.0.0.1"}, "hostaddr"),
    ("postgresql", {"tcp_user_timeout": 0}, "tcp_user_timeout"),
    ("postgresql", {"keepalives": 0}, "keepalives"),
    ("sqlite", {"uri": "true"}, "uri"),
    ("mysql", {"connect_timeout": 0}, "connect_timeout"),
    ("mysql", {"connect_timeout": 61}, "connect_timeout"),
    ("mysql", {"connect_timeout": "5s"}, "connect_timeout"),
    ("mysql", {"connect_timeout": True}, "connect_timeout"),
    ("mysql", {"connect_timeout": 2.5}, "connect_timeout"),
    ("mysql", {"charset": "utf8mb4 COLLATE x"}, "charset"),
    ("mysql", {"charset": "klingon"}, "charset"),
    ("mysql", {"collation": "utf8mb4_bin; SET @a=1"}, "collation"),
    ("mysql", {"ssl_disabled": "maybe"}, "ssl_disabled"),
    ("mysql", {"ssl_verify_cert": [True]}, "ssl_verify_cert"),
    ("postgresql", {"sslmode": "none"}, "sslmode"),
    ("postgresql", {"application_name": "a\nb"}, "application_name"),
    ("postgresql", {"application_name": "x" * 65}, "application_name"),
    ("postgresql", {"client_encoding": "UTF8' options='-c x"}, "client_encoding"),
    ("postgresql", {"client_encoding": "SQL_ASCII"}, "client_encoding"),
    ("postgresql", {"client_encoding": "BIG5"}, "client_encoding"),
    ("postgresql", {"client_encoding": "LATIN1"}, "client_encoding"),
    ("mysql", {"charset": "binary"}, "charset"),
    ("mysql", {"charset": "latin1"}, "charset"),
    ("mysql", {"charset": "utf16"}, "charset"),
    ("mysql", {"collation": "latin1_bin"}, "collation"),
    ("mysql", {"collation": "binary"}, "collation"),
    ("mysql", {"collation": "utf8mb4"}, "collation"),
])
def test_other_options_and_bad_values_are_refused_by_name(dialect, given, refused):
    found = problems(dialect, given)
    assert list(found) == [f"data.options.{refused}"]
    with pytest.raises(DatabaseOptionNotAllowed) as raised:
        read(dialect, given)
    assert refused in raised.value.detail
    assert raised.value.errors == found
    assert raised.value.status == 422 and raised.value.code == "database_option_not_allowed"


def test_every_refused_option_is_named_at_once():
    found = problems("mysql", {"local_infile": 1, "charset": "utf8mb4", "init_command": "x"})
    assert sorted(found) == ["data.options.init_command", "data.options.local_infile"]


def test_options_must_be_an_object():
    assert list(problems("postgresql", ["sslmode", "disable"])) == ["data.options"]


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_the_catalogue_lists_exactly_the_allowed_options(dialect):
    schema = json.loads((CATALOGUE_TYPES / f"{dialect}.json").read_text())["dataSchema"]
    options = schema["properties"]["options"]
    assert options["additionalProperties"] is False
    assert set(options["properties"]) == set(ALLOWED[dialect])
