"""Tests for token generation and hashing in integration_hub.identity.tokens."""

from __future__ import annotations

import hashlib
import re

import pytest

from integration_hub.identity.tokens import TOKEN_PREFIX, generate_token, hash_token

HEX_64 = re.compile(r"[0-9a-f]{64}")
URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")


def test_generate_token_shape():
    token = generate_token()
    assert TOKEN_PREFIX == "ihub_"
    assert token.startswith("ihub_")
    assert len(token) >= 40
    assert URL_SAFE.fullmatch(token[len(TOKEN_PREFIX):])


def test_generate_token_is_unique():
    tokens = [generate_token() for _ in range(2_000)]
    assert len(set(tokens)) == len(tokens)
    assert all(t.startswith("ihub_") and len(t) >= 40 for t in tokens)


@pytest.mark.parametrize(
    "plain",
    ["ihub_" + "a" * 43, "ihub_short", "", "ihub_ünïcödé", "x"],
)
def test_hash_token_is_sha256_hex(plain):
    digest = hash_token(plain)
    assert HEX_64.fullmatch(digest)
    assert digest == hashlib.sha256(plain.encode("utf-8")).hexdigest()
    assert hash_token(plain) == digest  # deterministic


def test_hash_token_known_vector():
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_hash_token_differs_per_token_and_hides_it():
    tokens = [generate_token() for _ in range(200)]
    digests = [hash_token(t) for t in tokens]
    assert len(set(digests)) == len(tokens)
    for token, digest in zip(tokens, digests, strict=True):
        assert digest != token
        assert token not in digest
        assert token[len(TOKEN_PREFIX):] not in digest
        assert TOKEN_PREFIX not in digest


def test_hash_token_is_case_sensitive():
    assert hash_token("ihub_Abc") != hash_token("ihub_abc")
