"""The hub's own files are private to the account that runs it (docs/security.md, "Files the
hub writes"): its SQLite database holds the records, the users and the encrypted secrets, its
queue the tasks, and its instance folder the development keys. SQLite creates a database with
the process's umask (0644 under the usual 022), so every local account could read it. Now
each such file is created 0600, whatever the umask, its ``-wal``/``-shm`` companions follow,
a folder the hub creates for them is 0700, and a database found readable by others is
tightened to 0600 with a warning in the log.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from integration_hub import create_app
from integration_hub.config import Settings
from integration_hub.db import migrations
from tests.conftest import REPO_ROOT

PRIVATE_FILE, PRIVATE_FOLDER = 0o600, 0o700


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def umask(mask: int):
    before = os.umask(mask)
    try:
        yield
    finally:
        os.umask(before)


def hub_files(folder: Path) -> dict[str, int]:
    """Every file and folder under ``folder`` (itself included) -> its mode."""
    return {str(path.relative_to(folder)): mode(path) for path in (folder, *folder.rglob("*"))}


def private(folder: Path) -> dict[str, int]:
    """What ``hub_files(folder)`` is when every file is 0600 and every folder 0700."""
    return {str(path.relative_to(folder)): PRIVATE_FOLDER if path.is_dir() else PRIVATE_FILE
            for path in (folder, *folder.rglob("*"))}


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o000])
def test_a_fresh_instance_is_private_whatever_the_umask(tmp_path, mask):
    made = tmp_path / "deploy"  # neither it nor the instance folder in it exists yet
    with umask(mask):
        settings = Settings.from_env({"HUB_INSTANCE_PATH": str(made / "instance")})
        migrations.upgrade(settings.database_url)
        app = create_app(settings)
        try:
            with app.test_client() as client:  # a request: the database open in WAL mode
                assert client.post("/api/login", json={"username": "x", "password": "y long"}
                                   ).status_code == 401
            # While the database is open: its -wal and -shm files exist.
            files, wanted = hub_files(made), private(made)
        finally:
            app.extensions["integration_hub.db"].kw["bind"].dispose()

    assert {"instance/integration-hub.db", "instance/integration-hub.db-wal",
            "instance/integration-hub.db-shm", "instance/queue.db", "instance/secret-key",
            "instance/encryption-keys"} <= set(files)
    assert files == wanted


def test_the_make_run_commands_leave_private_files(tmp_path):
    """``make run`` is ``integration-hub db upgrade``, ``demo``, then ``serve``: the first two
    run as the operator runs them, with the common umask 022."""
    instance = tmp_path / "instance"
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith(("HUB_", "DATABASE_URL", "SECRET_KEY"))}
    environ["HUB_INSTANCE_PATH"] = str(instance)
    for command in (["db", "upgrade"], ["demo"]):
        done = subprocess.run([sys.executable, "-m", "integration_hub", *command], cwd=REPO_ROOT,
                              env=environ, capture_output=True, text=True, timeout=120,
                              preexec_fn=lambda: os.umask(0o022))
        assert done.returncode == 0, done.stderr

    files = hub_files(instance)
    assert {"integration-hub.db", "queue.db", "secret-key", "encryption-keys"} <= set(files)
    assert files == private(instance)


def test_a_database_readable_by_others_is_tightened_with_a_warning(tmp_path, caplog):
    database = tmp_path / "hub.db"
    url = f"sqlite:///{database}"
    migrations.upgrade(url)
    for name in ("hub.db", "hub.db-wal", "hub.db-shm"):
        if (tmp_path / name).exists():
            os.chmod(tmp_path / name, 0o644)
    assert mode(database) == 0o644

    settings = Settings.from_env({"HUB_INSTANCE_PATH": str(tmp_path / "instance"),
                                  "DATABASE_URL": url})
    with caplog.at_level(logging.WARNING):
        app = create_app(settings)
    app.extensions["integration_hub.db"].kw["bind"].dispose()

    assert mode(database) == PRIVATE_FILE
    assert all(mode(tmp_path / name) == PRIVATE_FILE for name in ("hub.db-wal", "hub.db-shm")
               if (tmp_path / name).exists())
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(database) in message and "0644" in message for message in warnings), warnings
