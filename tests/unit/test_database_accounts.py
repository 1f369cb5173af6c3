"""What makes a database account too powerful for the hub, read from the server's answers."""

import pytest

from integration_hub.services.database_accounts import mysql_powers, postgres_powers


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


@pytest.mark.parametrize("grants, reasons", [
    (["GRANT USAGE ON *.* TO `reader`@`%`",
      "GRANT SELECT ON `shop`.* TO `reader`@`%`"], []),
    (["GRANT FILE ON *.* TO `reader`@`127.0.0.1` IDENTIFIED BY PASSWORD '*D82'"], FILE),
    (["GRANT SELECT, SUPER ON *.* TO 'old'@'localhost'"], SUPER),
    (["GRANT RELOAD, FILE, SUPER ON *.* TO `ops`@`%` WITH GRANT OPTION"], FILE + SUPER),
    (["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"], FILE + SUPER),
    (["grant all on *.* to `root`@`%`"], FILE + SUPER),
    (["GRANT ALL PRIVILEGES ON `shop`.* TO `owner`@`%`"], []),  # one database: no FILE there
    (["GRANT SELECT (`file`) ON `shop`.`items` TO `r`@`%`"], []),
    (["GRANT `filer` TO `reader`@`%`", "GRANT FILE ON *.* TO `filer`"], FILE),
    (["GRANT FILE ON *.* TO PUBLIC"], FILE),
    (["GRANT PROXY ON ''@'%' TO `app`@`%`"], []),
    # MySQL 8 lists global privileges one by one, dynamic ones on a line of their own
    (["GRANT SELECT, PROCESS ON *.* TO `mon`@`%`",
      "GRANT BACKUP_ADMIN,SYSTEM_VARIABLES_ADMIN ON *.* TO `mon`@`%`"], []),
])
def test_mysql_powers(grants, reasons):
    assert mysql_powers(grants) == reasons
