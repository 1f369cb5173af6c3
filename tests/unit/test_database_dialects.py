"""Which database an integration is: one rule, as a table, and every module that asks agrees."""

from types import SimpleNamespace

import pytest

from integration_hub.databases import queries as dbquery
from integration_hub.databases.dialects import DIALECTS, dialect_of, integration_dialect
from integration_hub.integrations import credential_destinations

# (type, category, data, dialect)
TABLE = [
    # a catalogue database type is that database, whatever the category or data.dialect say
    ("postgresql", "database", {}, "postgresql"),
    ("postgresql", None, None, "postgresql"),
    ("mysql", None, {"dialect": "sqlite"}, "mysql"),
    ("sqlite", "crm", {}, "sqlite"),
    ("sqlite", None, "not an object", "sqlite"),
    # the generic type, or any type in the database category: data.dialect decides
    ("database", "database", {"dialect": "mysql"}, "mysql"),
    ("database", None, {"dialect": "sqlite"}, "sqlite"),
    ("database", "crm", {"dialect": "postgresql"}, "postgresql"),
    ("custom", "database", {"dialect": "postgresql"}, "postgresql"),
    ("warehouse", "database", {"dialect": "sqlite"}, "sqlite"),
    # ... and only a dialect the hub knows, given as it is spelled
    ("database", "database", {"dialect": "oracle"}, None),
    ("database", "database", {"dialect": "SQLite"}, None),
    ("database", "database", {"dialect": ["sqlite"]}, None),
    ("database", "database", {}, None),
    ("database", "database", None, None),
    ("warehouse", "database", "not an object", None),
    # anything else is not a database, whatever its data says
    ("custom", "custom", {"dialect": "mysql"}, None),
    ("custom", "crm", {"dialect": "postgresql"}, None),
    ("github", "development", {}, None),
    ("Database", "Database", {"dialect": "mysql"}, None),
    (None, None, None, None),
]


@pytest.mark.parametrize(("type_name", "category", "data", "dialect"), TABLE)
def test_the_dialect_of_an_integration(type_name, category, data, dialect):
    assert dialect_of(type_name, category, data) == dialect
    assert dialect is None or dialect in DIALECTS


@pytest.mark.parametrize(("type_name", "category", "data", "dialect"), TABLE)
def test_every_module_asks_the_same_rule(type_name, category, data, dialect):
    integration = SimpleNamespace(type=type_name, category=category, data=data)
    assert integration_dialect(integration) == dialect
    assert dbquery.is_database(integration) is (dialect is not None)
    config = {"type": type_name, "category": category, "data": data}
    if isinstance(data, dict) or data is None:  # destination reads data as an object
        assert credential_destinations.destination(config)["database"] == dialect
