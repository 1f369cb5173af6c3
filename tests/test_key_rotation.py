"""Key rotation: K1 -> [K2, K1] -> rotate-keys -> [K2] alone still opens every secret."""

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Column, Integer, MetaData, Table, Text, select

from integration_hub import create_app
from integration_hub.crypto import Keyring, SecretDecryptionError, rotate_keys
from tests.conftest import make_settings

K1, K2, K3 = (Fernet.generate_key().decode() for _ in range(3))
SECRETS = ["client-secret-1", "pässwörd ✓", "x" * 500]


@pytest.fixture
def vault(app, session):
    """A table with an encrypted column, marked the way the hub's models mark theirs."""
    metadata = MetaData()
    table = Table("rotation_probe", metadata,
                  Column("id", Integer, primary_key=True),
                  Column("secret", Text, info={"encrypted": True}),
                  Column("plain", Text))
    metadata.create_all(session.bind)
    old = Keyring([K1])
    rows = [{"id": i, "secret": old.encrypt(s), "plain": s} for i, s in enumerate(SECRETS)]
    session.execute(table.insert(), [*rows, {"id": 99, "secret": None, "plain": None}])
    session.commit()
    yield metadata, table
    session.rollback()
    metadata.drop_all(session.bind)


def stored(session, table):
    return dict(session.execute(select(table.c.id, table.c.secret)).all())


def test_rotation_re_encrypts_every_secret_under_the_new_first_key(session, vault):
    metadata, table = vault
    before = stored(session, table)

    report = rotate_keys(session, Keyring([K2, K1]), metadata)
    session.commit()

    after = stored(session, table)
    assert report.secrets == len(SECRETS) and report.columns == ("rotation_probe.secret",)
    assert after[99] is None
    plain = dict(session.execute(select(table.c.id, table.c.plain)).all())
    assert [plain[i] for i in range(len(SECRETS))] == SECRETS  # unmarked columns untouched
    only_new = Keyring([K2])
    for i, secret in enumerate(SECRETS):
        assert after[i] != before[i]
        assert only_new.decrypt(after[i]) == secret
        with pytest.raises(SecretDecryptionError):
            Keyring([K1]).decrypt(after[i])


def test_a_secret_no_key_opens_stops_rotation_and_changes_nothing(session, vault):
    metadata, table = vault
    before = stored(session, table)

    with pytest.raises(SecretDecryptionError) as failure:
        rotate_keys(session, Keyring([K2, K3]), metadata)
    session.rollback()

    assert "rotation_probe.secret" in str(failure.value)
    assert all(secret not in str(failure.value) for secret in SECRETS)
    assert stored(session, table) == before


def test_rotate_keys_command(migrated_app, tmp_path):
    url = migrated_app.config["HUB_SETTINGS"].database_url
    rotated = create_app(make_settings(url, tmp_path, HUB_ENCRYPTION_KEYS=f"{K2}, {K1}"))
    result = rotated.test_cli_runner().invoke(args=["rotate-keys"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted" in result.output
