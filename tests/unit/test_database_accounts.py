"""What makes a database account too powerful for the hub, read from the server's answers."""

import pytest

from integration_hub.databases.accounts import mysql_powers, postgres_powers


@pytest.mark.parametrize("rows, reasons", [
    ([], []),
    ([("reporter", True, True), ("postgres", True, False)], ["it is a superuser"]),
    ([("admins", True, False)], ["it is a member of the superuser role admins"]),
    ([("pg_execute_server_program", False, False), ("pg_read_server_files", False, False)],
     ["it is a member of pg_execute_server_program", "it is a member of pg_read_server_files"]),
    ([("pg_write_server_files", False, False)], ["it is a member of pg_write_server_files"]),
    ([("pg_monitor", False, False)], []),  # not asked for, and harmless if it came
])
def test_postgres_powers(rows, reasons):
    assert postgres_powers(rows) == reasons


FILE = ["it holds the FILE privilege"]
SUPER = ["it holds the SUPER privilege"]
ALL = ["it holds ALL PRIVILEGES (FILE and SUPER among them)"]
GRANT_OPTION = ["it holds the GRANT OPTION (it may give its privileges to others)"]


def held(*names: str) -> list[str]:
    return [f"it holds the {name} privilege" for name in names]


@pytest.mark.parametrize("grants, reasons", [
    (["GRANT USAGE ON *.* TO `reader`@`%`",
      "GRANT SELECT ON `shop`.* TO `reader`@`%`"], []),
    # the read-only global privileges, and limits after the account, are fine
    (["GRANT SELECT, SHOW VIEW, SHOW DATABASES ON *.* TO `r`@`%` IDENTIFIED BY PASSWORD '*D8' "
      "WITH MAX_USER_CONNECTIONS 5"], []),
    (["GRANT FILE ON *.* TO `reader`@`127.0.0.1` IDENTIFIED BY PASSWORD '*D82'"], FILE),
    (["GRANT SELECT, SUPER ON *.* TO 'old'@'localhost'"], SUPER),
    (["GRANT RELOAD, FILE, SUPER ON *.* TO `ops`@`%` WITH GRANT OPTION"],
     FILE + SUPER + held("RELOAD") + GRANT_OPTION),
    (["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"], ALL + GRANT_OPTION),
    (["grant all on *.* to `root`@`%`"], ALL),
    (["GRANT ALL PRIVILEGES ON `shop`.* TO `owner`@`%`"], []),  # one database: not global
    (["GRANT SELECT (`file`) ON `shop`.`items` TO `r`@`%`"], []),
    (["GRANT `filer` TO `reader`@`%`", "GRANT FILE ON *.* TO `filer`"], FILE),
    (["GRANT FILE ON *.* TO PUBLIC"], FILE),
    (["GRANT PROXY ON ''@'%' TO `app`@`%`"], []),
    (["GRANT USAGE ON *.* TO `r`@`%` WITH GRANT OPTION"], GRANT_OPTION),
    # every other global privilege, whatever the version calls it
    (["GRANT SELECT, PROCESS ON *.* TO `mon`@`%`"], held("PROCESS")),
    (["GRANT PROCESS, SET USER, BINLOG ADMIN ON *.* TO `tmpx`@`127.0.0.1`"],
     held("BINLOG ADMIN", "PROCESS", "SET USER")),
    (["GRANT SELECT, INSERT, EXECUTE ON *.* TO `w`@`%`"], held("EXECUTE", "INSERT")),
    # MySQL 8 lists dynamic privileges on a line of their own
    (["GRANT USAGE ON *.* TO `mon`@`%`",
      "GRANT BACKUP_ADMIN,SYSTEM_VARIABLES_ADMIN ON *.* TO `mon`@`%`"],
     held("BACKUP_ADMIN", "SYSTEM_VARIABLES_ADMIN")),
])
def test_mysql_powers(grants, reasons):
    assert mysql_powers(grants) == reasons
