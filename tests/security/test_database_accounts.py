"""Read-only holds only for a least-privilege database account: the hub refuses the others.

A read-only transaction does not stop a PostgreSQL superuser (or a member of
``pg_execute_server_program`` / ``pg_write_server_files``) from running programs or writing
files on the database's machine with ``COPY ... TO PROGRAM`` / ``COPY ... TO 'file'``, nor a
MariaDB account with ``FILE`` from writing files with ``SELECT ... INTO OUTFILE``. Before an
account's connection serves anything the hub checks what the account may do and refuses with
422 ``database_account_too_powerful``; ``POST .../test`` says so.

Every account here is made for the test on the real servers and dropped afterwards. Files a
vector would write go to a directory of the test's own that both servers may write to, and are
looked for after the hub answered.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from integration_hub.identity import directory as identity
from tests import factories
from tests.conftest import missing_component
from tests.secret_watch import WATCH
from tests.support.databases import (
    MYSQL_HOSTS,
    Target,
    TargetUnavailable,
    _mysql_admin,
    _pg_admin,
    create_target,
)
from tests.support.problems import assert_problem

TOO_POWERFUL = "database_account_too_powerful"


# -- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    made: dict[str, Target | TargetUnavailable] = {}

    def get(dialect: str) -> Target:
        if dialect not in made:
            try:
                made[dialect] = create_target(dialect, tmp_path_factory.mktemp("unused"))
            except TargetUnavailable as exc:
                made[dialect] = exc
            else:
                WATCH.remember([made[dialect].password, made[dialect].reader_password])
        found = made[dialect]
        if isinstance(found, TargetUnavailable):
            missing_component(str(found))
        return found

    yield get
    for found in made.values():
        if isinstance(found, Target):
            found.drop()


@pytest.fixture
def make_db(app, client, admin):
    created: list[str] = []

    def make(target: Target, username: str, password: str) -> str:
        WATCH.remember([password])
        with app.app_context(), app.extensions["integration_hub.db"]() as session:
            creator = identity.get_user(session, admin.tenant, admin.username)
            integration = factories.integration(
                session, creator, "Target DB", type=target.dialect, auth_type="none",
                mode="shared", api_base_uri=None, data=target.data(username=username),
                credentials={"password": password})
            session.commit()
            created.append(integration.id)
            return integration.id

    yield make
    for integration_id in created:
        client.delete(f"/api/integrations/{integration_id}?force=true", headers=admin.headers)


@pytest.fixture
def drop_box() -> Iterator[Path]:
    """A directory the database servers' own users may write into."""
    path = Path(tempfile.mkdtemp(prefix="hub-drop-box-"))
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def query(client, caller, integration: str, sql: str):
    return client.post(f"/api/integrations/{integration}/query", headers=caller.headers,
                       json={"sql": sql})


def refused_everywhere(client, caller, integration: str, sql: str, reason: str,
                       box: Path | None = None) -> None:
    """Query, schema and test all refuse the account, naming ``reason``; the query's vector
    left nothing in ``box``."""
    answer = query(client, caller, integration, sql)
    if box is not None:
        assert list(box.iterdir()) == [], "the vector ran on the database's machine"
    body = assert_problem(answer, 422, TOO_POWERFUL)
    assert reason in body["detail"], body
    assert_problem(client.get(f"/api/integrations/{integration}/schema",
                              headers=caller.headers), 422, TOO_POWERFUL)
    tested = client.post(f"/api/integrations/{integration}/test", headers=caller.headers)
    assert tested.status_code == 200, tested.get_data(as_text=True)
    result = tested.get_json()
    assert result["ok"] is False and result["code"] == TOO_POWERFUL, result
    assert reason in result["error"], result


# -- PostgreSQL ----------------------------------------------------------------------------------

@contextlib.contextmanager
def pg_account(target: Target, attributes: str = "", member_of: tuple[str, ...] = ()):
    """A login role that may read ``items``, with extra attributes and memberships."""
    from psycopg import sql

    name, password = f"{target.database}_acct{secrets.token_hex(3)}", "pw-" + secrets.token_hex(12)
    with _pg_admin() as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} " + attributes).format(
            sql.Identifier(name), sql.Literal(password)))
        for role in member_of:
            admin.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role),
                                                            sql.Identifier(name)))
    target._owner().execute(sql.SQL("GRANT SELECT ON items TO {}").format(sql.Identifier(name)))
    try:
        yield name, password
    finally:
        with _pg_admin() as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE usename = %s", (name,))
        with _pg_admin(target.database) as admin:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        with _pg_admin() as admin:
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


@contextlib.contextmanager
def pg_superuser_role():
    """A superuser role nobody logs in as (for membership)."""
    from psycopg import sql

    name = f"hubtest_su_{secrets.token_hex(3)}"
    with _pg_admin() as admin:
        admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN SUPERUSER").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with _pg_admin() as admin:
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


PG_RUN = "COPY (SELECT 'hub') TO PROGRAM 'cat > {box}/ran'"
PG_WRITE = "COPY (SELECT 'hub') TO '{box}/written'"
PG_CASES = {
    "superuser": ("SUPERUSER", (), PG_RUN, "superuser"),
    "pg_execute_server_program": ("", ("pg_execute_server_program",), PG_RUN,
                                  "pg_execute_server_program"),
    "pg_write_server_files": ("", ("pg_write_server_files",), PG_WRITE, "pg_write_server_files"),
    "pg_read_server_files": ("", ("pg_read_server_files",), "SELECT 1 AS one",
                             "pg_read_server_files"),
}


@pytest.mark.parametrize("case", PG_CASES)
def test_powerful_postgresql_accounts_are_refused(client, admin, make_db, targets, drop_box,
                                                  case):
    target = targets("postgresql")
    attributes, member_of, vector, reason = PG_CASES[case]
    with pg_account(target, attributes, member_of) as (name, password):
        integration = make_db(target, name, password)
        refused_everywhere(client, admin, integration, vector.format(box=drop_box), reason,
                           drop_box)


def test_a_postgresql_account_that_may_become_a_superuser_is_refused(client, admin, make_db,
                                                                       targets):
    target = targets("postgresql")
    with pg_superuser_role() as boss, pg_account(target, member_of=(boss,)) as (name, password):
        integration = make_db(target, name, password)
        refused_everywhere(client, admin, integration, "SELECT 1 AS one", boss)


# -- MariaDB / MySQL -----------------------------------------------------------------------------

def _mysql_run(*statements: str) -> None:
    admin = _mysql_admin()
    with closing(admin), admin.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


@contextlib.contextmanager
def mysql_account(target: Target, privileges: str = "", role_privileges: str = "",
                  default_role: bool = True, grant_tail: str = ""):
    """A user that may read the target's tables, with global ``privileges`` (``grant_tail``
    after the grant's TO part), or with a role holding ``role_privileges`` (active at login
    when ``default_role``)."""
    name, password = f"{target.database}_a{secrets.token_hex(2)}", "pw-" + secrets.token_hex(12)
    role = f"{target.database}_r{secrets.token_hex(2)}"
    users = [f"'{name}'@'{host}'" for host in MYSQL_HOSTS]
    statements = []
    for user in users:
        statements += [f"CREATE USER {user} IDENTIFIED BY '{password}'",
                       f"GRANT SELECT ON `{target.database}`.* TO {user}"]
        if privileges:
            statements.append(f"GRANT {privileges} ON *.* TO {user} {grant_tail}")
    if role_privileges:
        statements += [f"CREATE ROLE `{role}`", f"GRANT {role_privileges} ON *.* TO `{role}`"]
        for user in users:
            statements.append(f"GRANT `{role}` TO {user}")
            if default_role:
                statements.append(f"SET DEFAULT ROLE `{role}` FOR {user}")
    try:
        _mysql_run(*statements)
        yield name, password, role
    finally:
        admin = _mysql_admin()
        with closing(admin), admin.cursor() as cursor:
            cursor.execute("SELECT id FROM information_schema.processlist WHERE user = %s", (name,))
            for (pid,) in cursor.fetchall():
                with contextlib.suppress(Exception):
                    cursor.execute(f"KILL {int(pid)}")
            for user in users:
                cursor.execute(f"DROP USER IF EXISTS {user}")
            cursor.execute(f"DROP ROLE IF EXISTS `{role}`")


MYSQL_WRITE = "SELECT 'hub' INTO OUTFILE '{box}/written'"
MYSQL_CASES = {
    "FILE": ({"privileges": "FILE"}, [MYSQL_WRITE], "FILE"),
    "SUPER": ({"privileges": "SUPER"}, ["SELECT 1 AS one"], "SUPER"),
    "ALL PRIVILEGES": ({"privileges": "ALL PRIVILEGES"}, [MYSQL_WRITE], "FILE"),
    "FILE by its default role": ({"role_privileges": "FILE"}, [MYSQL_WRITE], "FILE"),
    "FILE by a role it may switch to": ({"role_privileges": "FILE", "default_role": False},
                                        ["SET ROLE {role}", MYSQL_WRITE], "FILE"),
    # Beyond FILE and SUPER: only a read-only set of global privileges is accepted, so
    # every other one is refused, MariaDB's finer-grained ones (split from SUPER) included.
    "PROCESS": ({"privileges": "PROCESS"}, ["SELECT 1 AS one"], "PROCESS"),
    "RELOAD": ({"privileges": "RELOAD"}, ["SELECT 1 AS one"], "RELOAD"),
    "SHUTDOWN": ({"privileges": "SHUTDOWN"}, ["SELECT 1 AS one"], "SHUTDOWN"),
    "CREATE USER": ({"privileges": "CREATE USER"}, ["SELECT 1 AS one"], "CREATE USER"),
    "EXECUTE": ({"privileges": "EXECUTE"}, ["SELECT 1 AS one"], "EXECUTE"),
    "INSERT beside SELECT": ({"privileges": "SELECT, INSERT"}, ["SELECT 1 AS one"], "INSERT"),
    "BINLOG ADMIN": ({"privileges": "BINLOG ADMIN"}, ["SELECT 1 AS one"], "BINLOG ADMIN"),
    "SET USER": ({"privileges": "SET USER"}, ["SELECT 1 AS one"], "SET USER"),
    "CONNECTION ADMIN": ({"privileges": "CONNECTION ADMIN"}, ["SELECT 1 AS one"],
                         "CONNECTION ADMIN"),
    "GRANT OPTION": ({"privileges": "SELECT", "grant_tail": "WITH GRANT OPTION"},
                     ["SELECT 1 AS one"], "GRANT OPTION"),
    "PROCESS by a role it may switch to": ({"role_privileges": "PROCESS",
                                            "default_role": False},
                                           ["SELECT 1 AS one"], "PROCESS"),
}


@pytest.mark.parametrize("case", MYSQL_CASES)
def test_powerful_mariadb_accounts_are_refused(client, admin, make_db, targets, drop_box, case):
    target = targets("mysql")
    grants, vectors, reason = MYSQL_CASES[case]
    with mysql_account(target, **grants) as (name, password, role):
        integration = make_db(target, name, password)
        *before, vector = [v.format(box=drop_box, role=f"`{role}`") for v in vectors]
        for sql in before:
            query(client, admin, integration, sql)
        refused_everywhere(client, admin, integration, vector, reason, drop_box)


# -- least privilege works, and the test endpoint looks again ----------------------------------

@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_a_least_privilege_account_queries_and_tests_well(client, admin, make_db, targets,
                                                          dialect):
    target = targets(dialect)
    if dialect == "mysql":  # global read-only privileges, and a role holding them, are fine
        account = mysql_account(target, privileges="SELECT, SHOW VIEW, SHOW DATABASES",
                                role_privileges="SELECT, SHOW VIEW")
    else:
        account = pg_account(target, member_of=("pg_read_all_stats",))
    with account as (name, password, *_):
        integration = make_db(target, name, password)
        answer = query(client, admin, integration, "SELECT count(*) AS n FROM items")
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.get_json()["rows"] == [[3]]
        tested = client.post(f"/api/integrations/{integration}/test", headers=admin.headers)
        assert tested.get_json()["ok"] is True, tested.get_data(as_text=True)


def test_the_test_endpoint_checks_again_and_drops_the_pool(client, admin, make_db, targets,
                                                          drop_box):
    """A grant made after the hub pooled a connection: ``POST .../test`` finds it, and no
    pooled connection serves another query."""
    from psycopg import sql

    target = targets("postgresql")
    with pg_account(target) as (name, password):
        integration = make_db(target, name, password)
        assert query(client, admin, integration, "SELECT 1 AS one").status_code == 200
        with _pg_admin() as pg:
            pg.execute(sql.SQL("GRANT pg_execute_server_program TO {}").format(
                sql.Identifier(name)))
        tested = client.post(f"/api/integrations/{integration}/test", headers=admin.headers)
        assert tested.get_json()["code"] == TOO_POWERFUL, tested.get_data(as_text=True)
        assert_problem(query(client, admin, integration, PG_RUN.format(box=drop_box)), 422,
                       TOO_POWERFUL)
    assert list(drop_box.iterdir()) == []
