"""Header templates: ``${ns.field}`` placeholders in configured values.

Syntax, expanded in one left-to-right pass that never re-reads what it inserted:

- ``${user.email}`` or the design notation ``$<user.email>``: the variable's value;
- ``${user.region:-eu}`` / ``$<user.region:-eu>``: ``eu`` when the variable is
  unknown or empty (the default is literal text, may be empty, may not nest a
  ``${``/``$<``);
- ``$${`` and ``$$<``: a literal ``${`` and ``$<``; any other ``$`` is literal.

Anything else after ``${`` or ``$<`` (a malformed name, a missing closing brace)
is refused like an unknown variable, naming the raw text, so configuration
mistakes surface instead of being sent upstream. Messages name headers and
variables, never values: those may be personal data.

Pure: no Flask, no database.

See docs/decisions.md, "Header templates".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from integration_hub import errors


class TemplateVariableUndefined(errors.ValidationFailed):
    code, title = "template_variable_undefined", "A header template uses a variable that is not set"


class HeaderValueInvalid(errors.ValidationFailed):
    code, title = "header_value_invalid", "A header value contains a control character"


_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*"
_TOKEN = re.compile(r"""
      \$\$(?P<escaped>[{<])                       # $${ or $$< : literal ${ or $<
    | \$\{(?P<brace>[^}]*)(?P<brace_end>\})?      # ${...}, unclosed when no } follows
    | \$<(?P<angle>[^>]*)(?P<angle_end>>)?        # $<...>, the alias
    """, re.VERBOSE)
# A default is literal text; a nested ${ or $< in it is refused rather than sent verbatim.
_BODY = re.compile(rf"(?P<name>{_NAME})(?::-(?P<default>(?:(?!\$[{{<]).)*))?", re.DOTALL)
_FIELD = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")  # a key below a namespace
# C0 controls except horizontal tab, DEL, C1 controls (incl. NEL), line/paragraph separators.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_SECRET_FIELDS = frozenset({"access_token", "refresh_token", "id_token", "client_secret",
                            "password", "api_key"})
_USER_BUILTINS = ("username", "displayName", "email")
_TENANT_BUILTINS = ("id", "name")
_ACCOUNT_FIELDS = ("email", "displayName", "accountId")
_RAW_SHOWN = 60  # characters of a malformed token quoted in messages

Problem = tuple[str, str]  # (the token as written, why it failed)


def _reference(match: re.Match[str]) -> re.Match[str] | None:
    """The parsed name and default of a ``${...}`` or ``$<...>`` token; None when malformed."""
    if match["brace"] is not None:
        body, closed = match["brace"], match["brace_end"]
    else:
        body, closed = match["angle"], match["angle_end"]
    return _BODY.fullmatch(body) if closed else None


def _malformed(match: re.Match[str]) -> Problem:
    raw = match[0] if len(match[0]) <= _RAW_SHOWN else match[0][:_RAW_SHOWN] + "…"
    return raw, "is not a valid variable" if match["brace_end"] or match["angle_end"] else "is not closed"


def _expand(template: str, variables: Mapping[str, str]) -> tuple[str, list[Problem]]:
    problems: list[Problem] = []

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$" + match["escaped"]
        reference = _reference(match)
        if reference is None:
            problems.append(_malformed(match))
            return ""
        value = variables.get(reference["name"])
        if value:
            return value
        if reference["default"] is not None:
            return reference["default"]
        problems.append((match[0], "is not set"))
        return ""

    return _TOKEN.sub(replace, template), problems


def _template_undefined(problems: list[Problem]) -> TemplateVariableUndefined:
    return TemplateVariableUndefined(
        "; ".join(f"template uses {raw}, which {why}" for raw, why in problems),
        errors={"template": [f"{raw} {why}" for raw, why in problems]})


def expand(template: str, variables: Mapping[str, str]) -> str:
    """The template with every variable replaced; raises TemplateVariableUndefined."""
    value, problems = _expand(template, variables)
    if problems:
        raise _template_undefined(problems)
    return value


def expand_headers(templates: Mapping[str, str], variables: Mapping[str, str]) -> dict[str, str]:
    """Every header expanded. Raises TemplateVariableUndefined (all unset variables of
    all headers) or, once everything is set, HeaderValueInvalid (all headers whose
    value contains a control character). Values stay str; the caller encodes UTF-8."""
    expanded: dict[str, str] = {}
    undefined: list[tuple[str, str, str]] = []
    for header, template in templates.items():
        expanded[header], problems = _expand(template, variables)
        undefined += [(header, raw, why) for raw, why in problems]
    if undefined:
        raise TemplateVariableUndefined(
            "; ".join(f"header {h} uses {raw}, which {why}" for h, raw, why in undefined),
            errors={"headers": [f"{h}: {raw} {why}" for h, raw, why in undefined]})
    invalid = [(header, found[0]) for header, value in expanded.items()
               if (found := _CONTROL.search(value))]
    if invalid:
        raise HeaderValueInvalid(
            "; ".join(f"header {h} would contain the control character U+{ord(c):04X}"
                      for h, c in invalid),
            errors={"headers": [f"{h}: the value contains a control character (U+{ord(c):04X})"
                                for h, c in invalid]})
    return expanded


def _scalar(value: Any) -> str | None:
    """str as is, bool as true/false, numbers via str(); anything else is no variable."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def _add(into: dict[str, str], prefix: str, fields: Mapping[str, Any],
         reserved: tuple[str, ...] = (), secret: frozenset[str] = frozenset()) -> None:
    for key, value in fields.items():
        if (not isinstance(key, str) or not _FIELD.fullmatch(key) or key in reserved
                or key.lower() in secret):
            continue
        text = _scalar(value)
        if text is not None:
            into[prefix + key] = text


def template_variables(*, username: str, display_name: str | None, email: str | None,
                       user_fields: Mapping[str, Any], tenant_id: str, tenant_name: str,
                       tenant_settings: Mapping[str, Any], connection_fields: Mapping[str, Any],
                       account: Mapping[str, Any] | None) -> dict[str, str]:
    """The variables a template may use, all as str. Built-ins win over custom user
    fields and tenant settings; secret-named connection fields are dropped."""
    variables: dict[str, str] = {}
    _add(variables, "user.", user_fields, reserved=_USER_BUILTINS)
    _add(variables, "user.", {"username": username, "displayName": display_name, "email": email})
    _add(variables, "tenant.", tenant_settings, reserved=_TENANT_BUILTINS)
    _add(variables, "tenant.", {"id": tenant_id, "name": tenant_name})
    _add(variables, "connection.", connection_fields,
         reserved=tuple(f"account.{f}" for f in _ACCOUNT_FIELDS), secret=_SECRET_FIELDS)
    account_fields = {f: (account or {}).get(f) for f in _ACCOUNT_FIELDS}
    _add(variables, "connection.account.", account_fields)
    return variables
