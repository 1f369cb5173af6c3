"""Which driver options a database integration's ``data.options`` may set: an allow-list.

Driver options reach PyMySQL and libpq as they are, and many are dangerous in a user's hand:
PyMySQL's ``local_infile`` sends the server any file the hub can read, ``init_command`` runs a
statement before the hub's read-only transaction begins, ``read_default_file``,
``passfile``, ``service`` or ``ssl_key`` read files of the hub's machine, ``host`` or
``unix_socket`` take the stored password elsewhere, libpq's ``options`` turns read-only off.
So each dialect lists the options it passes on (timeouts, TLS, character set, application
name), each with a reader that turns what JSON gave (string, number or boolean) into the
value the driver wants, or says why it cannot. Everything else is refused, naming the option:
when an integration is saved, and again when it is used (rows stored before this list).

Pure: no database and no Flask, tested with plain tables (tests/unit/test_database_options.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from integration_hub import errors


class DatabaseOptionNotAllowed(errors.ValidationFailed):
    code, title = "database_option_not_allowed", "The hub does not pass this option to the driver"


Reader = Callable[[Any], Any]  # raises ValueError with the reason


def _seconds(low: int, high: int) -> Reader:
    def read(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"must be a whole number of seconds from {low} to {high}")
        text = str(value).strip()
        if not text.isdigit() or not low <= int(text) <= high:
            raise ValueError(f"must be a whole number of seconds from {low} to {high}")
        return int(text)
    return read


def _choice(*allowed: str) -> Reader:
    def read(value: Any) -> str:
        if value not in allowed:
            raise ValueError("must be one of " + ", ".join(allowed))
        return value
    return read


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, int | str) else ""
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError("must be true or false")


def _libpq_flag(value: Any) -> str:
    return "1" if _flag(value) else "0"


def _word(pattern: str, what: str) -> Reader:
    compiled = re.compile(pattern)

    def read(value: Any) -> str:
        if not isinstance(value, str) or not compiled.fullmatch(value):
            raise ValueError(f"must be {what}")
        return value
    return read


_NAME = _word(r"[A-Za-z0-9_]{1,32}", "a name of letters, digits and '_' (at most 32)")
_LABEL = _word(r"[A-Za-z0-9 ._:/@()+-]{1,64}",
               "at most 64 letters, digits, spaces and . _ : / @ ( ) + -")
_TLS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


# Text comes back as Python ``str`` only through UTF-8: with SQL_ASCII psycopg hands over bytes,
# BIG5 cannot encode the query's own text, PyMySQL has no codec for ``binary``, and latin1 and
# the like turn what they cannot hold into "?" (or fail). So the character set is UTF-8.
_PG_UTF8 = ("utf8", "unicode")           # PostgreSQL's names for it, any case
_MYSQL_UTF8 = ("utf8mb4", "utf8mb3", "utf8")


def _postgres_encoding(value: Any) -> str:
    name = _NAME(value)
    if name.lower() not in _PG_UTF8:
        raise ValueError("must be UTF8: the hub reads text as UTF-8 only")
    return name


def _mysql_charset(value: Any) -> str:
    name = _NAME(value)
    if name.lower() not in _MYSQL_UTF8:
        raise ValueError("must be utf8mb4 (or utf8mb3, utf8): the hub reads text as UTF-8 only")
    return name.lower()


def _mysql_collation(value: Any) -> str:
    name = _NAME(value)
    if name.lower().split("_", 1)[0] not in _MYSQL_UTF8 or "_" not in name:
        raise ValueError("must be a collation of utf8mb4 (or utf8mb3, utf8), e.g. utf8mb4_bin")
    return name.lower()


ALLOWED: dict[str, dict[str, Reader]] = {
    # libpq connection parameters (psycopg passes them on)
    "postgresql": {
        "connect_timeout": _seconds(1, 60),
        "application_name": _LABEL,
        "client_encoding": _postgres_encoding,
        "sslmode": _choice("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
        "channel_binding": _choice("disable", "prefer", "require"),
        "ssl_min_protocol_version": _choice(*_TLS),
        "ssl_max_protocol_version": _choice(*_TLS),
        "sslsni": _libpq_flag,
        # GSSAPI would use the hub's own Kerberos ticket: only "off" (database_drivers).
        "gssencmode": _choice("disable"),
        "target_session_attrs": _choice("any", "read-write", "read-only", "primary", "standby",
                                        "prefer-standby"),
    },
    # PyMySQL connect() keywords
    "mysql": {
        "connect_timeout": _seconds(1, 60),
        "charset": _mysql_charset,
        "collation": _mysql_collation,
        "program_name": _LABEL,
        "ssl_disabled": _flag,
        "ssl_verify_cert": _flag,
        "ssl_verify_identity": _flag,
    },
    "sqlite": {},
}


def problems(dialect: str, options: Any) -> dict[str, list[str]]:
    """Why ``options`` cannot go to the driver, keyed ``data.options.<name>``; empty if they can."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        return {"data.options": ["must be an object of driver options"]}
    allowed = ALLOWED.get(dialect, {})
    found: dict[str, list[str]] = {}
    for name, value in options.items():
        reader = allowed.get(name)
        if reader is None:
            listed = ", ".join(sorted(allowed)) or "none"
            found[f"data.options.{name}"] = [
                f"is not an option the hub passes to the {dialect} driver (allowed: {listed})"]
            continue
        try:
            reader(value)
        except ValueError as reason:
            found[f"data.options.{name}"] = [str(reason)]
    return found


def read(dialect: str, options: Any) -> dict[str, Any]:
    """The driver's values for ``options``; DatabaseOptionNotAllowed names each refused one."""
    found = problems(dialect, options)
    if found:
        names = ", ".join(key.removeprefix("data.options.") for key in sorted(found))
        raise DatabaseOptionNotAllowed(
            f"data.options: {names} cannot be passed to the {dialect} driver", errors=found)
    allowed = ALLOWED.get(dialect, {})
    return {name: allowed[name](value) for name, value in (options or {}).items()}


def as_text(value: Any) -> str:
    """A driver value as URL query text that ``read`` turns back into the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
