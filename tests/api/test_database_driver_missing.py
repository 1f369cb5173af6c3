"""A hub installed without a database's driver says so, for every database call.

The driver's import is made to fail the way it fails on a machine without the package: a
``None`` entry in ``sys.modules`` makes ``import psycopg`` (or ``pymysql``) raise
``ModuleNotFoundError`` in this process, for as long as the test holds it. Saving the
integration needs no driver; testing, querying and reading the schema answer
``501 database_driver_missing`` naming the driver and the hub's extra that installs it, never
a 500. Once the driver is back, the same integration is tried for real again.
"""

from __future__ import annotations

import sys

import pytest

from tests.support.problems import assert_problem

DRIVERS = {  # dialect: (module, the hub's extra, its server here)
    "postgresql": ("psycopg", "postgres", 5432),
    "mysql": ("pymysql", "mysql", 3306),
}


@pytest.mark.parametrize("dialect", sorted(DRIVERS))
def test_a_missing_driver_is_a_clear_problem_for_every_database_call(
        client, admin, monkeypatch, dialect):
    module, extra, port = DRIVERS[dialect]
    installed = sys.modules.get(module)
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ModuleNotFoundError):
        __import__(module)

    saved = client.post("/api/integrations", headers=admin.headers, json={
        "name": f"{dialect} without its driver", "type": dialect, "authType": "none",
        "mode": "shared", "data": {"host": "127.0.0.1", "port": port,
                                   "database": "ihub_driverless", "username": "nobody"},
        "credentials": {"password": "pw-driverless-8841"}})
    assert saved.status_code == 201, saved.get_json()
    links = saved.get_json()["_links"]

    calls = {"test": lambda: client.post(links["inf:test"]["href"], headers=admin.headers),
             "query": lambda: client.post(links["inf:query"]["href"], headers=admin.headers,
                                          json={"sql": "SELECT 1"}),
             "schema": lambda: client.get(links["inf:schema"]["href"], headers=admin.headers)}
    for name, call in calls.items():
        problem = assert_problem(call(), 501, "database_driver_missing")
        assert (problem["driver"], problem["extra"]) == (module, extra), name
        assert module in problem["detail"] and f"integration-hub[{extra}]" in problem["detail"]

    # Installed again (the same module object: the hub's own database may use it too).
    if installed is None:
        monkeypatch.delitem(sys.modules, module)
    else:
        monkeypatch.setitem(sys.modules, module, installed)
    tried = client.post(links["inf:test"]["href"], headers=admin.headers)
    assert tried.status_code == 200, tried.get_json()
    assert tried.get_json()["ok"] is False and tried.get_json()["code"] != "database_driver_missing"
