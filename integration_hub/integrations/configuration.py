"""Writing an integration's configuration: catalogue defaults for what the caller left out, the
caller's values (secrets encrypted), the checks of the whole configuration before anything is
flushed, and a free slug. integrations/store.py decides who may do it and when.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integration_hub import crypto, errors
from integration_hub.config import current_settings
from integration_hub.databases import dialects as database_dialects
from integration_hub.databases import hosts as database_hosts
from integration_hub.databases import options as database_options
from integration_hub.databases.sqlite_files import SqliteFiles
from integration_hub.db.models import Integration
from integration_hub.integrations import credential_destinations
from integration_hub.integrations.catalogue import catalogue
from integration_hub.integrations.rules import (
    RESERVED_SLUGS,
    configuration_errors,
    normalise_auth_type,
    slug_problem,
    slugify,
    with_suffix,
)
from integration_hub.sync import settings as sync_settings

# Plain configuration columns a caller may set (attribute names).
SETTABLE = ("name", "type", "category", "description", "mode", "auth_type", "enabled", "embedded",
            "scope", "auth_uri", "token_uri", "revocation_uri", "user_info_uri", "api_base_uri",
            "client_id", "basic_token_auth", "api_key_location", "api_key_name", "headers",
            "data", "image_url")
# Write-only secrets: API attribute -> encrypted column.
SECRETS = {"client_secret": "client_secret_encrypted", "api_key": "api_key_encrypted",
           "credentials": "credentials_encrypted"}
# What a column set to null (or left out on creation) holds.
NULL_MEANS = {"description": "", "headers": {}, "data": {}, "enabled": True, "embedded": False,
              "basic_token_auth": False, "api_key_location": "header",
              "api_key_name": "X-API-Key", "mode": "per-user", "auth_type": "oauth2"}


# Defaults that only make sense with the catalogue's own auth type.
_AUTH_DEFAULTS = {"auth_uri", "token_uri", "revocation_uri", "scope", "basic_token_auth",
                  "api_key_location", "api_key_name"}


def with_catalogue_defaults(integration: Integration,
                             values: Mapping[str, Any]) -> Mapping[str, Any]:
    """Fill what the caller left out from the catalogue entry of the type; given fields win."""
    provider = catalogue().find(values["type"])
    if provider is None:
        return values
    defaults = provider.defaults()
    given_auth = values.get("auth_type")
    same_auth = given_auth is None or normalise_auth_type(given_auth) == defaults.get("auth_type")
    for attribute, value in defaults.items():
        if attribute in values or attribute == "data" or (attribute in _AUTH_DEFAULTS
                                                            and not same_auth):
            continue
        setattr(integration, attribute, json.loads(json.dumps(value)))
    merged = dict(values)
    if defaults.get("data") and same_auth:
        merged["data"] = {**defaults["data"], **(values.get("data") or {})}
    return merged


def apply(integration: Integration, values: Mapping[str, Any]) -> None:
    for attribute in SETTABLE:
        if attribute in values:
            value = values[attribute]
            if value is None:
                value = NULL_MEANS.get(attribute)
            if attribute == "auth_type":
                value = normalise_auth_type(value)
            setattr(integration, attribute, value)
    for attribute, column in SECRETS.items():
        if attribute in values:
            secret = values[attribute]
            if isinstance(secret, dict):
                secret = json.dumps(secret, separators=(",", ":"))
            setattr(integration, column, crypto.encrypt(secret) if secret not in (None, "") else None)


def configuration_state(integration: Integration) -> dict[str, Any]:
    """The configuration under the API's field names, for the cross-field rules."""
    return {"authType": integration.auth_type, "authUri": integration.auth_uri,
            "tokenUri": integration.token_uri, "revocationUri": integration.revocation_uri,
            "userInfoUri": integration.user_info_uri, "apiBaseUri": integration.api_base_uri,
            "clientId": integration.client_id, "apiKeyLocation": integration.api_key_location,
            "apiKeyName": integration.api_key_name, "headers": integration.headers}


def validate(integration: Integration) -> None:
    data = integration.data or {}
    dialect = database_dialects.integration_dialect(integration)
    if dialect:
        database_options.read(dialect, data.get("options"))  # refused options, by name
    provider = catalogue().find(integration.type)
    integration.supports_upload = bool(provider and provider.spec.get("supportsUpload"))
    problems = configuration_errors(configuration_state(integration))
    problems.update(catalogue().data_errors(integration.type, integration.data or {}))
    problems.update(sync_settings.problems((integration.data or {}).get("sync")))
    problems.update(credential_destinations.origin_problems(data.get("credentialOrigins")))
    if dialect == "sqlite" and "data.path" not in problems:
        SqliteFiles.of(current_settings()).check(str((integration.data or {}).get("path") or ""))
    if problems:
        raise errors.ValidationFailed("the configuration is not valid: "
                                      + ", ".join(sorted(problems)), errors=problems)
    if dialect and dialect != "sqlite":  # a host or address; no socket, not the hub's database
        database_hosts.Guard.of(current_settings()).check_saved(dialect, data)


def assign_slug(session: Session, integration: Integration, requested: str | None) -> None:
    """A given slug must be free; a derived one takes the first free -2, -3 ... suffix."""
    if requested:
        if problem := slug_problem(requested):
            raise errors.ValidationFailed(f"slug {problem}", errors={"slug": [problem]})
        if _slug_taken(session, integration, requested):
            raise errors.ValidationFailed("slug is already used by another integration",
                                          errors={"slug": ["already used by another integration"]})
        candidates = [requested]
    else:
        base = slugify(integration.name)
        taken = set(session.scalars(select(Integration.slug).where(
            Integration.tenant_id == integration.tenant_id, Integration.id != integration.id,
            Integration.slug.like(base + "%")))) | RESERVED_SLUGS  # slugify leaves no wildcards
        free = next(n for n in range(1, len(taken) + 3) if with_suffix(base, n) not in taken)
        candidates = [with_suffix(base, n) for n in range(free, free + 5)]
    for slug in candidates:
        integration.slug = slug
        try:
            with session.begin_nested():
                session.add(integration)
                session.flush()
            return
        except IntegrityError:  # taken concurrently since we looked; try the next one
            continue
    raise errors.Conflict("could not find a free slug; try again")


def _slug_taken(session: Session, integration: Integration, slug: str) -> bool:
    return session.scalars(select(Integration.id).where(
        Integration.tenant_id == integration.tenant_id, Integration.slug == slug,
        Integration.id != integration.id)).first() is not None
