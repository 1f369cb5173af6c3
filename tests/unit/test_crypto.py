"""Tests for the pure Keyring: Fernet encryption under an ordered list of keys."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from integration_hub.crypto import Keyring, SecretDecryptionError

K1 = Fernet.generate_key().decode()
K2 = Fernet.generate_key().decode()
K3 = Fernet.generate_key().decode()
SECRET = "client-secret-value-4711"


@pytest.mark.parametrize(
    "plaintext",
    [
        pytest.param(SECRET, id="ascii"),
        pytest.param("", id="empty"),
        pytest.param("pässwörd-密码-🔑", id="non-ascii"),
        pytest.param("line\nbreak\x00nul", id="control-characters"),
        pytest.param("x" * 10_000, id="long"),
    ],
)
def test_round_trip(plaintext):
    ring = Keyring([K1])
    ciphertext = ring.encrypt(plaintext)
    assert isinstance(ciphertext, str)
    ciphertext.encode("ascii")  # storable in any text column
    assert ring.decrypt(ciphertext) == plaintext


def test_ciphertext_hides_plaintext_and_is_randomised():
    ring = Keyring([K1])
    first, second = ring.encrypt(SECRET), ring.encrypt(SECRET)
    assert SECRET not in first
    assert first != second
    assert ring.decrypt(first) == ring.decrypt(second) == SECRET


def test_first_key_encrypts():
    ciphertext = Keyring([K2, K1]).encrypt(SECRET)
    assert Keyring([K2]).decrypt(ciphertext) == SECRET
    with pytest.raises(SecretDecryptionError):
        Keyring([K1]).decrypt(ciphertext)


def test_every_key_decrypts_and_rotate_moves_to_first_key():
    old = Keyring([K1]).encrypt(SECRET)
    ring = Keyring([K2, K1])

    assert ring.decrypt(old) == SECRET
    rotated = ring.rotate(old)
    assert rotated != old
    assert SECRET not in rotated
    assert Keyring([K2]).decrypt(rotated) == SECRET
    with pytest.raises(SecretDecryptionError):
        Keyring([K1]).decrypt(rotated)


def test_rotate_of_current_ciphertext_stays_readable():
    ring = Keyring([K2, K1])
    rotated = ring.rotate(ring.encrypt(SECRET))
    assert Keyring([K2]).decrypt(rotated) == SECRET


@pytest.mark.parametrize("operation", ["decrypt", "rotate"])
def test_wrong_key_raises_clear_error_without_secrets(operation):
    ciphertext = Keyring([K1]).encrypt(SECRET)
    ring = Keyring([K2, K3])

    with pytest.raises(SecretDecryptionError) as caught:
        getattr(ring, operation)(ciphertext)

    message = str(caught.value)
    assert "HUB_ENCRYPTION_KEYS" in message
    assert "cannot be decrypted" in message
    for forbidden in (SECRET, ciphertext, K1, K2, K3):
        assert forbidden not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True


@pytest.mark.parametrize("operation", ["decrypt", "rotate"])
@pytest.mark.parametrize(
    "ciphertext",
    [
        pytest.param("", id="empty"),
        pytest.param("not-a-fernet-token", id="garbage"),
        pytest.param("gAAAAA" + "A" * 80, id="truncated-token-shape"),
        pytest.param("gAAAAAé", id="non-ascii"),
    ],
)
def test_corrupt_ciphertext_raises_secret_decryption_error(operation, ciphertext):
    with pytest.raises(SecretDecryptionError):
        getattr(Keyring([K1]), operation)(ciphertext)


def test_tampered_ciphertext_is_rejected():
    ring = Keyring([K1])
    ciphertext = ring.encrypt(SECRET)
    middle = len(ciphertext) // 2
    flipped = "B" if ciphertext[middle] != "B" else "C"
    with pytest.raises(SecretDecryptionError):
        ring.decrypt(ciphertext[:middle] + flipped + ciphertext[middle + 1:])


@pytest.mark.parametrize("keys", [[], ()])
def test_empty_key_list_raises(keys):
    with pytest.raises(ValueError, match="at least one"):
        Keyring(keys)
