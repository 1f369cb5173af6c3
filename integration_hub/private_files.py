"""The hub's own files, private to the account that runs it: 0600 files in 0700 folders.

The SQLite database holds records, users and encrypted secrets, the SQLite queue holds the
tasks, the instance folder the development keys. SQLite would create a database with the
process's umask (0644 under the usual 022: readable by every local account), so the hub
creates the file itself first; SQLite then gives its ``-wal``, ``-shm`` and ``-journal``
files the mode of the database. A folder the hub makes for them is 0700. Modes are set
with chmod after creating, so no umask (0000 included) loosens them.

A database or queue found readable or writable by others (made by an older release, by
hand, restored from a backup) is tightened to 0600, with a warning naming the file and
its old mode; when the hub may not change it (another account owns it), it refuses to
start rather than run on a file others can read. See docs/security.md, "Files the hub
writes".
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

FILE_MODE, FOLDER_MODE = 0o600, 0o700
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
log = logging.getLogger(__name__)


class LooseFileMode(RuntimeError):
    """A file of the hub that others may read and the hub may not tighten."""


def private_folder(path: Path) -> None:
    """Make ``path`` and any missing parent 0700; a folder that exists is left as it is
    (it may be shared on purpose, such as /var/lib)."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:  # another process made it meanwhile
            continue
        os.chmod(folder, FOLDER_MODE)


def private_file(path: Path) -> None:
    """Create ``path`` empty and 0600 unless it exists; an existing one readable or
    writable by others is tightened to 0600 (``LooseFileMode`` when that is not allowed)."""
    private_folder(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        tighten(path)
        return
    try:
        os.fchmod(descriptor, FILE_MODE)
    finally:
        os.close(descriptor)


def tighten(path: Path) -> None:
    """Take away every permission of group and others on ``path``, if it has any."""
    try:
        current = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return
    if not current & 0o077:
        return
    try:
        os.chmod(path, current & 0o700)
    except PermissionError:
        raise LooseFileMode(f"{path} is open to other accounts (mode {current:04o}) and the hub "
                            f"may not change that; make it private: chmod 600 {path}") from None
    log.warning("%s was open to other accounts (mode %04o); it is now %04o", path, current,
                current & 0o700)


def sqlite_file(url: str) -> Path | None:
    """The file a ``sqlite://`` URL names, if it names one (not ``:memory:``, not a
    ``file:`` URI, which says its own mode)."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") \
            or database.startswith("file:") or parsed.query.get("uri"):
        return None
    return Path(database).absolute()


def private_sqlite(url: str) -> None:
    """Before SQLite opens the database of ``url``: the file (and any companion it left
    behind) private."""
    path = sqlite_file(url)
    if path is None:
        return
    private_file(path)
    for suffix in SQLITE_COMPANIONS:
        tighten(path.with_name(path.name + suffix))
