"""Tests for Settings.from_env: secrets, validation and URL normalisation."""

from __future__ import annotations

import logging
import stat

import pytest
from cryptography.fernet import Fernet

from integration_hub.config import ConfigError, Settings, normalise_database_url

GOOD_SECRET = "q7Vd2Lk9Xw4Rz8Pm3Tj6Hs1Nb5Gc0FyE"
KEY_1 = Fernet.generate_key().decode()
KEY_2 = Fernet.generate_key().decode()


@pytest.fixture
def instance(tmp_path):
    """An instance folder that does not exist yet, inside pytest's tmp_path."""
    return tmp_path / "instance"


def env(instance, **values: str) -> dict[str, str]:
    return {"HUB_INSTANCE_PATH": str(instance), "DATABASE_URL": "sqlite://", **values}


def production_env(instance, **values: str) -> dict[str, str]:
    return env(instance, **{"HUB_ENV": "production", "SECRET_KEY": GOOD_SECRET,
                            "HUB_ENCRYPTION_KEYS": KEY_1, **values})


# --- development secrets -------------------------------------------------------------------------

def test_development_generates_secrets_once(instance, caplog):
    with caplog.at_level(logging.WARNING, logger="integration_hub.config"):
        first = Settings.from_env(env(instance))

    assert first.env == "development"
    assert first.production is False
    assert len(first.secret_key) >= 32
    assert len(first.encryption_keys) == 1
    Fernet(first.encryption_keys[0])  # a usable key

    secret_file = instance / "secret-key"
    keys_file = instance / "encryption-keys"
    assert secret_file.read_text().strip() == first.secret_key
    assert keys_file.read_text().strip() == first.encryption_keys[0]
    for path in (secret_file, keys_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    for message in warnings:
        assert first.secret_key not in message
        assert first.encryption_keys[0] not in message

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="integration_hub.config"):
        second = Settings.from_env(env(instance))
    assert second.secret_key == first.secret_key
    assert second.encryption_keys == first.encryption_keys
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_development_generated_values_differ_per_instance(tmp_path):
    a = Settings.from_env(env(tmp_path / "a"))
    b = Settings.from_env(env(tmp_path / "b"))
    assert a.secret_key != b.secret_key
    assert a.encryption_keys != b.encryption_keys


def test_development_uses_given_secrets_without_writing(instance):
    settings = Settings.from_env(env(instance, SECRET_KEY="short", HUB_ENCRYPTION_KEYS=KEY_1))
    assert settings.secret_key == "short"  # the length rule is for production only
    assert settings.encryption_keys == (KEY_1,)
    assert not (instance / "secret-key").exists()
    assert not (instance / "encryption-keys").exists()


def test_development_generates_only_what_is_missing(instance):
    settings = Settings.from_env(env(instance, SECRET_KEY=GOOD_SECRET))
    assert settings.secret_key == GOOD_SECRET
    assert not (instance / "secret-key").exists()
    assert (instance / "encryption-keys").read_text().strip() == settings.encryption_keys[0]


# --- production ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"SECRET_KEY": ""}, "SECRET_KEY", id="no-secret-key"),
        pytest.param({"SECRET_KEY": "   "}, "SECRET_KEY", id="blank-secret-key"),
        pytest.param({"SECRET_KEY": "x" * 31}, "SECRET_KEY", id="short-secret-key"),
        pytest.param({"HUB_ENCRYPTION_KEYS": ""}, "HUB_ENCRYPTION_KEYS", id="no-encryption-keys"),
        pytest.param({"HUB_ENCRYPTION_KEYS": " , ,"}, "HUB_ENCRYPTION_KEYS",
                     id="encryption-keys-only-separators"),
    ],
)
def test_production_refuses_missing_or_weak_secrets(instance, overrides, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(production_env(instance, **overrides))
    assert not instance.exists()


@pytest.mark.parametrize("key", ["change-me-change-me-change-me-123456",
                                 "my-production-secret-key-is-here-42", "a1" * 20,
                                 "placeholder-value-for-the-session-key"])
def test_production_refuses_placeholder_secret_keys(instance, key):
    with pytest.raises(ConfigError, match="placeholder"):
        Settings.from_env(production_env(instance, SECRET_KEY=key))


def test_production_refuses_the_development_secret_key(instance):
    development = Settings.from_env(env(instance))  # writes instance/secret-key once
    with pytest.raises(ConfigError, match="development key"):
        Settings.from_env(production_env(instance, SECRET_KEY=development.secret_key))


@pytest.mark.parametrize("value", ["1", "true"])
def test_production_refuses_debug_mode(instance, value):
    with pytest.raises(ConfigError, match="FLASK_DEBUG"):
        Settings.from_env(production_env(instance, FLASK_DEBUG=value))
    assert Settings.from_env(production_env(instance, FLASK_DEBUG="0")).production


def test_production_refuses_when_variables_absent(instance):
    environ = {"HUB_ENV": "production", "HUB_INSTANCE_PATH": str(instance),
               "DATABASE_URL": "sqlite://"}
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env(environ)
    with pytest.raises(ConfigError, match="HUB_ENCRYPTION_KEYS"):
        Settings.from_env({**environ, "SECRET_KEY": GOOD_SECRET})
    assert not instance.exists()


def test_production_with_secrets(instance):
    settings = Settings.from_env(production_env(instance, HUB_ENCRYPTION_KEYS=f"{KEY_2},{KEY_1}"))
    assert settings.production is True
    assert settings.env == "production"
    assert settings.secret_key == GOOD_SECRET
    assert settings.encryption_keys == (KEY_2, KEY_1)
    assert not instance.exists()


def test_production_never_writes_secrets_into_existing_instance(instance):
    instance.mkdir()
    Settings.from_env(production_env(instance))
    with pytest.raises(ConfigError):
        Settings.from_env(production_env(instance, SECRET_KEY=""))
    with pytest.raises(ConfigError):
        Settings.from_env(production_env(instance, HUB_ENCRYPTION_KEYS=""))
    assert list(instance.iterdir()) == []


@pytest.mark.parametrize("name", ["HUB_SYNC_PAGE_TIMEOUT", "HUB_WEBHOOK_TIMEOUT"])
@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "Infinity", "1e400"])
def test_timeouts_are_finite(instance, name, value):
    with pytest.raises(ConfigError, match=f"{name} must be a finite number"):
        Settings.from_env(production_env(instance, **{name: value}))


@pytest.mark.parametrize("value", ["production", "PRODUCTION", " Production "])
def test_hub_env_is_case_and_space_insensitive(instance, value):
    assert Settings.from_env(production_env(instance, HUB_ENV=value)).production is True


# --- encryption keys -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "bad_entry", "position"),
    [
        pytest.param("not-a-fernet-key", "not-a-fernet-key", 1, id="garbage-first"),
        pytest.param(f"{KEY_1},short-key-value", "short-key-value", 2, id="garbage-second"),
        pytest.param(f"{KEY_1}, {KEY_2} ,{KEY_1[:-4]}", KEY_1[:-4], 3, id="truncated-third"),
        pytest.param("ä" * 44, "ä" * 44, 1, id="non-ascii"),
    ],
)
@pytest.mark.parametrize("hub_env", ["development", "production"])
def test_invalid_fernet_key_is_named_by_position_not_value(instance, raw, bad_entry, position,
                                                           hub_env):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env(instance, HUB_ENV=hub_env, SECRET_KEY=GOOD_SECRET,
                              HUB_ENCRYPTION_KEYS=raw))
    message = str(caught.value)
    assert f"entry {position}" in message
    assert bad_entry not in message
    assert KEY_1 not in message and KEY_2 not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(KEY_1, (KEY_1,), id="single"),
        pytest.param(f"{KEY_1},{KEY_2}", (KEY_1, KEY_2), id="two"),
        pytest.param(f"  {KEY_2} ,  {KEY_1}  ", (KEY_2, KEY_1), id="spaces-order-kept"),
        pytest.param(f"{KEY_1},,{KEY_2},", (KEY_1, KEY_2), id="empty-entries-ignored"),
    ],
)
def test_encryption_keys_split_and_stripped(instance, raw, expected):
    settings = Settings.from_env(env(instance, SECRET_KEY=GOOD_SECRET, HUB_ENCRYPTION_KEYS=raw))
    assert settings.encryption_keys == expected


# --- database URL --------------------------------------------------------------------------------

DATABASE_URLS = [
    ("postgres://u:p@db:5432/hub", "postgresql+psycopg://u:p@db:5432/hub"),
    ("postgresql://u:p@db/hub", "postgresql+psycopg://u:p@db/hub"),
    ("mysql://u:p@db/hub?charset=utf8mb4", "mysql+pymysql://u:p@db/hub?charset=utf8mb4"),
    ("mariadb://u:p@db/hub", "mysql+pymysql://u:p@db/hub"),
    ("postgresql+psycopg://u@db/hub", "postgresql+psycopg://u@db/hub"),
    ("postgresql+psycopg2://u@db/hub", "postgresql+psycopg2://u@db/hub"),
    ("mysql+mysqldb://u@db/hub", "mysql+mysqldb://u@db/hub"),
    ("mariadb+pymysql://u@db/hub", "mariadb+pymysql://u@db/hub"),
    ("sqlite:///relative.db", "sqlite:///relative.db"),
    ("sqlite:////abs/hub.db", "sqlite:////abs/hub.db"),
    ("sqlite://", "sqlite://"),
]


@pytest.mark.parametrize(("raw", "expected"), DATABASE_URLS)
def test_normalise_database_url(raw, expected):
    assert normalise_database_url(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), DATABASE_URLS)
def test_from_env_normalises_database_url(instance, raw, expected):
    settings = Settings.from_env(env(instance, DATABASE_URL=f"  {raw} ", SECRET_KEY=GOOD_SECRET,
                                     HUB_ENCRYPTION_KEYS=KEY_1))
    assert settings.database_url == expected


@pytest.mark.parametrize("database_url", [None, "", "   "])
def test_default_database_is_sqlite_in_instance_folder(instance, database_url):
    environ = env(instance, SECRET_KEY=GOOD_SECRET, HUB_ENCRYPTION_KEYS=KEY_1)
    if database_url is None:
        del environ["DATABASE_URL"]
    else:
        environ["DATABASE_URL"] = database_url
    settings = Settings.from_env(environ)

    assert settings.instance_path == instance.resolve()
    assert settings.database_url == f"sqlite:///{instance.resolve() / 'integration-hub.db'}"
    assert settings.database_url.startswith("sqlite:////")  # an absolute path
    assert instance.is_dir()  # ready for SQLite to create the file


# --- other variables -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"HUB_ENV": "staging"}, "HUB_ENV", id="unknown-env"),
        pytest.param({"HUB_ENV": "dev"}, "HUB_ENV", id="abbreviated-env"),
        pytest.param({"HUB_TRUSTED_PROXIES": "two"}, "HUB_TRUSTED_PROXIES", id="proxies-word"),
        pytest.param({"HUB_TRUSTED_PROXIES": "1.5"}, "HUB_TRUSTED_PROXIES", id="proxies-float"),
        pytest.param({"HUB_TRUSTED_PROXIES": ""}, "HUB_TRUSTED_PROXIES", id="proxies-empty"),
        pytest.param({"HUB_TRUSTED_PROXIES": "-1"}, "HUB_TRUSTED_PROXIES", id="proxies-negative"),
        pytest.param({"HUB_PUBLIC_URL": "hub.example.com"}, "HUB_PUBLIC_URL", id="url-no-scheme"),
        pytest.param({"HUB_PUBLIC_URL": "/hub"}, "HUB_PUBLIC_URL", id="url-path-only"),
        pytest.param({"HUB_PUBLIC_URL": "ftp://hub.example.com"}, "HUB_PUBLIC_URL",
                     id="url-wrong-scheme"),
        pytest.param({"HUB_SYNC_MAX_PAGE_BYTES": "1023"}, "HUB_SYNC_MAX_PAGE_BYTES",
                     id="sync-page-below-minimum"),
        pytest.param({"HUB_SYNC_MAX_PAGE_BYTES": "8M"}, "HUB_SYNC_MAX_PAGE_BYTES",
                     id="sync-page-word"),
    ],
)
def test_invalid_values_raise_config_error(instance, overrides, message):
    environ = env(instance, SECRET_KEY=GOOD_SECRET, HUB_ENCRYPTION_KEYS=KEY_1, **overrides)
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(environ)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://hub.example.com/", "https://hub.example.com"),
        ("https://hub.example.com", "https://hub.example.com"),
        ("http://hub.example.com/base//", "http://hub.example.com/base"),
        (" https://hub.example.com/ ", "https://hub.example.com"),
        ("", None),
    ],
)
def test_public_url(instance, raw, expected):
    settings = Settings.from_env(env(instance, SECRET_KEY=GOOD_SECRET, HUB_ENCRYPTION_KEYS=KEY_1,
                                     HUB_PUBLIC_URL=raw))
    assert settings.public_url == expected


@pytest.mark.parametrize(("raw", "expected"), [("0", 0), ("2", 2), (" 1 ", 1)])
def test_trusted_proxies(instance, raw, expected):
    settings = Settings.from_env(env(instance, SECRET_KEY=GOOD_SECRET, HUB_ENCRYPTION_KEYS=KEY_1,
                                     HUB_TRUSTED_PROXIES=raw))
    assert settings.trusted_proxies == expected


def test_defaults(instance):
    settings = Settings.from_env(env(instance, SECRET_KEY=GOOD_SECRET, HUB_ENCRYPTION_KEYS=KEY_1))
    assert settings.env == "development"
    assert settings.public_url is None
    assert settings.trusted_proxies == 0
    assert settings.default_tenant == "default"


# --- flask_config --------------------------------------------------------------------------------

@pytest.mark.parametrize(("hub_env", "secure"), [("development", False), ("production", True)])
def test_flask_config_cookies(instance, hub_env, secure):
    settings = Settings.from_env(production_env(instance, HUB_ENV=hub_env))
    config = settings.flask_config()

    assert config["SESSION_COOKIE_SECURE"] is secure
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["SECRET_KEY"] == GOOD_SECRET


def test_workers_starting_together_agree_on_generated_secrets(tmp_path):
    """Several gunicorn workers may start on a fresh instance folder at once."""
    from concurrent.futures import ThreadPoolExecutor

    env = {"HUB_INSTANCE_PATH": str(tmp_path)}
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: Settings.from_env(env), range(16)))

    assert len({r.secret_key for r in results}) == 1
    assert len({r.encryption_keys for r in results}) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["encryption-keys", "secret-key"]
