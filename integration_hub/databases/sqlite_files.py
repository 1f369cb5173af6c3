"""SQLite files a database integration may open (docs/security.md, "Database integrations").

A user's ``data.path`` names a file; it never becomes URI syntax. The hub resolves it (symlinks
followed) to a real path that must lie under ``HUB_SQLITE_ROOT``, be a regular file (or not exist
yet) and not be one of the hub's own files: its database, its queue, anything in its instance
folder, also under a second name (a hard link). It then writes the ``file:`` URI itself, from
that real path, percent-encoded, with ``mode=ro``. How the file is then opened and read:
databases/sqlite_connections.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from integration_hub import errors


class SqlitePathOutsideRoot(errors.ValidationFailed):
    code, title = "sqlite_path_outside_root", "SQLite files must be under HUB_SQLITE_ROOT"


class SqlitePathHubFile(errors.ValidationFailed):
    code, title = "sqlite_path_hub_file", "The hub's own files cannot be opened by integrations"


class SqlitePathNotAFile(errors.ValidationFailed):
    code, title = "sqlite_path_not_a_file", "The SQLite path does not name a file"


SIDE_FILES = ("", "-wal", "-shm", "-journal")
# SQLite's limit on one value applies to the schema it reads too: never below this.
LEAST_VALUE_LIMIT = 1024 * 1024


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _sqlite_file_of(url: str) -> Path | None:
    """The file a ``sqlite://`` URL (the hub's database or queue) names, if it names one."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    return Path(database.removeprefix("file:").split("?")[0]).resolve()


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


@dataclass(frozen=True)
class SqliteFiles:
    """The files under ``root`` that are not the hub's own."""

    root: Path | None
    hub_files: tuple[Path, ...] = ()      # the hub's database and queue, with journal and WAL
    hub_folders: tuple[Path, ...] = ()    # the instance folder
    max_value_bytes: int = 16 * 1024 * 1024  # the answer's byte cap, at least LEAST_VALUE_LIMIT

    @classmethod
    def of(cls, settings) -> SqliteFiles:
        own = [file for file in (_sqlite_file_of(settings.database_url),
                                 _sqlite_file_of(settings.queue_url)) if file]
        return cls(settings.sqlite_root,
                   tuple(file.with_name(file.name + side) for file in own for side in SIDE_FILES),
                   (settings.instance_path.resolve(),),
                   max(settings.query_max_bytes, LEAST_VALUE_LIMIT))

    def check(self, path: str) -> Path:
        """The real path of the file ``path`` names; refused unless integrations may open it."""
        if self.root is None:
            raise _refused(SqlitePathOutsideRoot,
                           "SQLite database integrations need HUB_SQLITE_ROOT to be set")
        if not path:
            raise _refused(SqlitePathOutsideRoot, "a SQLite integration needs data.path")
        try:
            given = Path(path)
            real = (given if given.is_absolute() else self.root / given).resolve()
        except (OSError, RuntimeError, ValueError):  # a NUL byte, a loop of symlinks
            raise _refused(SqlitePathNotAFile, "is not a usable file path") from None
        if not _under(real, self.root):
            raise _refused(SqlitePathOutsideRoot,
                           "the file must be under the directory HUB_SQLITE_ROOT names")
        if self._is_hub_file(real):
            raise _refused(SqlitePathHubFile, "is one of the hub's own files (its database, "
                                              "queue or instance folder)")
        try:
            other = real.exists() and not real.is_file()
        except OSError:  # a folder on the way the hub may not look into
            other = True
        if other:
            raise _refused(SqlitePathNotAFile, "is not a regular file the hub can read")
        return real

    def url(self, path: str) -> URL:
        """A URL naming the checked real file (the hub writes the ``file:`` URI from it)."""
        return URL.create("sqlite", database=str(self.check(path)))

    def _is_hub_file(self, real: Path) -> bool:
        if real in self.hub_files:
            return True
        # A root inside the instance folder was given to integrations by the operator.
        folders = [folder for folder in self.hub_folders if not _under(self.root, folder)]
        if any(_under(real, folder) for folder in folders):
            return True
        try:
            found = os.stat(real)
        except OSError:
            return False
        if found.st_nlink < 2:
            # One name only: not a hard link of anything, so no need to search the hub's
            # folders (which was done on every query).
            return False
        identity = (found.st_dev, found.st_ino)
        return any(_identity(file) == identity for file in self.hub_files) or any(
            identity in self._identities_in(folder) for folder in self.hub_folders)

    def _identities_in(self, folder: Path):
        """(device, inode) of every file in ``folder`` outside the root, as found."""
        for parent, folder_names, file_names in os.walk(folder):
            folder_names[:] = [name for name in folder_names
                               if not _under(self.root, Path(parent, name))]
            for name in file_names:
                yield _identity(Path(parent, name))


def _refused(kind: type[errors.HubError], message: str) -> errors.HubError:
    return kind(f"data.path {message}", errors={"data.path": [message]})


def file_uri(path: Path) -> str:
    """``file:`` URI of an absolute path, read-only: every byte SQLite could read as URI
    syntax (``%``, ``?``, ``#``, spaces, non-ASCII) is percent-encoded."""
    return f"file:{quote(str(path), safe='/')}?mode=ro"
