"""The one door to secrets at rest: Fernet ciphertext under a list of keys.

The first key in ``HUB_ENCRYPTION_KEYS`` encrypts; every key decrypts, so an
operator rotates by putting a new key first, running ``rotate-keys``, then
dropping the old key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import MetaData, Table, select, update
from sqlalchemy.orm import Session

_EXTENSION = "integration_hub.keyring"


class SecretDecryptionError(RuntimeError):
    """A stored secret does not open with any configured key."""


class Keyring:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise SecretDecryptionError(
                "a stored secret cannot be decrypted with any key in HUB_ENCRYPTION_KEYS; "
                "keep the old key in the list until rotate-keys has run"
            ) from None

    def rotate(self, ciphertext: str) -> str:
        """The same secret, encrypted under the first key."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise SecretDecryptionError(
                "a stored secret cannot be decrypted with any key in HUB_ENCRYPTION_KEYS"
            ) from None


def init_app(app, keys: Sequence[str]) -> None:
    app.extensions[_EXTENSION] = Keyring(keys)


def keyring() -> Keyring:
    return current_app.extensions[_EXTENSION]


def encrypt(plaintext: str | None) -> str | None:
    return None if plaintext is None else keyring().encrypt(plaintext)


def decrypt(ciphertext: str | None) -> str | None:
    return None if ciphertext is None else keyring().decrypt(ciphertext)


def fingerprint(secret: str | None) -> str:
    """A short, keyed digest identifying a secret without revealing it (cache keys)."""
    if secret is None:
        return ""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, secret.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class RotationReport:
    columns: tuple[str, ...]
    secrets: int


def encrypted_columns(metadata: MetaData) -> Iterable[tuple[Table, str]]:
    """Every column marked ``info["encrypted"]`` (see ``db.types.encrypted_secret``)."""
    for table in metadata.sorted_tables:
        for column in table.columns:
            if column.info.get("encrypted"):
                yield table, column.name


def rotate_keys(session: Session, ring: Keyring, metadata: MetaData) -> RotationReport:
    """Re-encrypt every stored secret under the first key, all or nothing.

    The caller commits; a secret that opens with no key raises before anything
    is written, naming the table and column but never the value.
    """
    done_columns = []
    count = 0
    for table, name in encrypted_columns(metadata):
        column = table.c[name]
        key_columns = list(table.primary_key.columns)
        rows = session.execute(select(*key_columns, column).where(column.is_not(None))).all()
        for row in rows:
            try:
                rotated = ring.rotate(row[-1])
            except SecretDecryptionError:
                raise SecretDecryptionError(
                    f"a secret in {table.name}.{name} cannot be decrypted with any key in "
                    "HUB_ENCRYPTION_KEYS; nothing was changed") from None
            condition = [key == value for key, value in zip(key_columns, row[:-1], strict=True)]
            session.execute(update(table).where(*condition).values({name: rotated}))
            count += 1
        done_columns.append(f"{table.name}.{name}")
    return RotationReport(tuple(done_columns), count)
