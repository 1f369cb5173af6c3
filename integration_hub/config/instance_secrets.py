"""Development secrets, generated once into the instance folder (docs/deployment.md, "Keys and
the environment file"); production refuses to start without them (readers.py)."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from integration_hub.private_files import private_folder

# The package's logger: every message about settings comes from one name.
log = logging.getLogger(__package__)


def instance_secret(instance_path: Path, filename: str, make: Callable[[], str], what: str) -> str:
    """Read a development secret from the instance folder, creating it once."""
    path = instance_path / filename
    if path.exists():
        return path.read_text().strip()
    private_folder(instance_path)
    value = make()
    # Write under a temporary name, then link into place: of several workers
    # starting at once exactly one wins, and no one reads a half-written file.
    staging = instance_path / f".{filename}.{secrets.token_hex(8)}"
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    try:
        os.link(staging, path)
    except FileExistsError:
        return path.read_text().strip()
    finally:
        staging.unlink()
    log.warning(
        "Generated a development %s in the instance folder (%s). "
        "Set it in the environment for production.", what, filename,
    )
    return value
