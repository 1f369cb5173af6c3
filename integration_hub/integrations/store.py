"""Integrations: create, read, change and delete them under the ACL.

Views pass the caller and the loaded fields (attribute names); this module checks access and
finds, lists and deletes integrations; what a create or change writes (catalogue defaults,
secrets encrypted, the whole configuration checked before anything is flushed, a free slug)
is integrations/configuration.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session, selectinload

from integration_hub import errors, json_body
from integration_hub.databases import dialects as database_dialects
from integration_hub.db import session as db
from integration_hub.db.models import Integration, Tag, User, integration_tags
from integration_hub.db.types import new_uuid
from integration_hub.integrations import credential_destinations, totals
from integration_hub.integrations.acl import (
    Access,
    access_columns,
    can_create,
    effective_access,
    principals_query,
    readable_clause,
    require,
)
from integration_hub.integrations.configuration import (
    NULL_MEANS,
    SECRETS,
    SETTABLE,
    apply,
    assign_slug,
    validate,
    with_catalogue_defaults,
)
from integration_hub.integrations.rules import is_uuid, normalise_auth_type
from integration_hub.webhooks import events as webhook_events

# Columns copied by ``copyFrom`` (configuration, not identity or ownership); the secrets
# too when the caller may share the source (docs/security.md, "Copies and re-pointing").
COPIED = (*SETTABLE, "supports_upload")
_REQUIRED = ("name", "type")


class IntegrationInUse(errors.Conflict):
    code, title = "integration_in_use", "The integration is in use"


@dataclass(frozen=True)
class Found:
    integration: Integration
    access: Access


_ORDER = (func.lower(Integration.name), Integration.id)


@dataclass(frozen=True)
class Dependents:
    """What the capabilities built on integrations need told, handed over by the app
    factory (app.py) with every session it opens: they import this package, so it cannot
    import them.

    ``usage_counters``: name -> how many of that depend on an integration (connections,
    stored records...); delete refuses while any is non-zero, naming them in this order.
    ``after_save``: called after an integration is created or changed (e.g. to plan its
    scheduled sync), with its configuration before the change (None for a new one).
    """

    usage_counters: Mapping[str, Callable[[Session, Integration], int]]
    after_save: tuple[Callable[[Session, User, Integration, Mapping[str, Any] | None], None], ...]


_DEPENDENTS = "integration_hub.integration_dependents"
_TOTALS = "integration_hub.integration_totals"


def init_app(app: Flask, dependents: Dependents,
             generation: Callable[[], int | None] = lambda: None) -> None:
    """``generation``: the database's change generation now (``db/generations.py``), which
    the list totals this process remembers are checked against (integrations/totals.py);
    one answering None keeps nothing."""
    db.carry(app, _DEPENDENTS, dependents)
    db.carry(app, _TOTALS, totals.Totals(generation))


def _dependents(session: Session) -> Dependents:
    return session.info[_DEPENDENTS]


def _by_key(column, with_access: bool):
    query = select(Integration).where(Integration.tenant_id == bindparam("tenant_id"),
                                      column == bindparam("key"))
    return query.add_columns(*access_columns()) if with_access else query


# Built once: every proxied call and every integration URL runs one of these.
_FIND = {(by_id, with_access): _by_key(Integration.id if by_id else Integration.slug, with_access)
         for by_id in (True, False) for with_access in (True, False)}


def _key(id_or_slug: str) -> tuple[bool, str]:
    by_id = is_uuid(id_or_slug)
    return by_id, id_or_slug.lower() if by_id else id_or_slug


def lookup(session: Session, tenant_id: str, id_or_slug: str) -> Integration | None:
    by_id, key = _key(id_or_slug)
    return session.scalars(_FIND[by_id, False], {"tenant_id": tenant_id, "key": key}).first()


def find(session: Session, user: User, id_or_slug: str, needed: Access = Access.READ) -> Found:
    """The integration by id or slug with the caller's access (one statement); 404/403 per
    the ACL."""
    by_id, key = _key(id_or_slug)
    if user.superuser:
        integration = lookup(session, user.tenant_id, id_or_slug)
        access = Access.NONE if integration is None else Access.OWNER
    else:
        row = session.execute(_FIND[by_id, True], {
            "tenant_id": user.tenant_id, "key": key, "username": user.username,
            "user_id": user.id}).first()
        integration = None if row is None else row[0]
        access = Access.NONE if row is None else effective_access(False, row[1], row[2])
    require(access, needed)
    _loaded_with_access(session, integration, access)
    return Found(integration, access)


def _loaded_with_access(session: Session, integration: Integration, access: Access) -> None:
    """Note the caller's access on the integration (its representation offers what that
    level allows) and keep it in memory for the session: the identity map holds objects
    weakly, and a share or connection reaching its integration after the view let go of
    it must find this object, not a fresh copy without the access."""
    integration.caller_access = access
    session.info.setdefault(_KEPT, {})[integration.id] = integration


_KEPT = "integration_hub.integrations_with_access"


# -- lists -------------------------------------------------------------------

def _filtered(user: User, filters: Mapping[str, Any], principals: list[str] | None = None,
              by_id: bool = False):
    query = select(Integration).where(readable_clause(user, principals, by_id),
                                      Integration.embedded.is_(False))
    if q := filters.get("q"):
        pattern = f"%{q.lower()}%"
        query = query.where(or_(func.lower(Integration.name).like(pattern),
                                func.lower(Integration.description).like(pattern)))
    for attribute in ("type", "category", "mode", "supports_upload"):
        if filters.get(attribute) is not None:
            query = query.where(getattr(Integration, attribute) == filters[attribute])
    if filters.get("auth_type"):
        query = query.where(Integration.auth_type == normalise_auth_type(filters["auth_type"]))
    if tag := filters.get("tag"):
        tagged = (select(integration_tags.c.integration_id)
                  .join(Tag, Tag.id == integration_tags.c.tag_id)
                  .where(Tag.tenant_id == user.tenant_id, or_(Tag.id == tag, Tag.name == tag)))
        query = query.where(Integration.id.in_(tagged))
    return query


def _principals(session: Session, user: User) -> list[str] | None:
    """The caller's principal ids, read once for the statements of a list (None for
    superusers, who read the whole tenant)."""
    return None if user.superuser else list(session.scalars(principals_query(user)))


def list_page(session: Session, user: User, filters: Mapping[str, Any], start: int,
              limit: int) -> tuple[list[Integration], int]:
    """One page of readable, non-embedded integrations and how many there are.

    The page walks the (tenant, lower(name), id) index in order and stops after
    ``start + limit`` readable rows. The count goes from the caller's shares to the
    integrations (work in proportion to what they can read); this process remembers it
    until the next change (integrations/totals.py). When it must be counted, it is a scalar
    subquery of the page's statement, in a transaction begun after the generation was
    read, so the count is never older than the generation it is remembered under. A page
    past the end has no row to carry the count: then it is asked alone.
    """
    principals = _principals(session, user)
    remembered = session.info.get(_TOTALS)
    key = totals.key_of(user.tenant_id, principals, filters) if remembered else None
    generation, total = remembered.lookup(key) if key is not None else (None, None)
    query = _filtered(user, filters, principals)
    count = None
    if total is None:
        if generation is not None:
            db.end_transaction(session)  # what is counted next is at least ``generation``
        count = (_filtered(user, filters, principals, by_id=True)
                 .with_only_columns(func.count(), maintain_column_froms=True))
        query = query.add_columns(count.correlate(None).scalar_subquery())
    if principals is not None:  # each item's links follow the caller's access to it
        query = query.add_columns(*access_columns(principals))
    rows = session.execute(query.order_by(*_ORDER).offset(start).limit(limit)).all()
    access_at = 1 if count is None else 2  # the columns after the integration (and count)
    for row in rows:
        _loaded_with_access(session, row[0], Access.OWNER if principals is None
                            else effective_access(False, row[access_at], row[access_at + 1]))
    if count is not None:
        total = (rows[0][1] if rows else session.scalar(count)) or 0
        if key is not None:
            remembered.remember(key, generation, total)
    return [row[0] for row in rows], total


def list_all(session: Session, user: User) -> list[Integration]:
    """Every readable, non-embedded integration with shares and tags loaded in bulk, each
    with the caller's access (``acl.caller_access``), as ``find`` gives it."""
    query = (_filtered(user, {}, by_id=True)
             .options(selectinload(Integration.shares), selectinload(Integration.tags))
             .order_by(*_ORDER))
    if user.superuser:
        rows = session.execute(query).all()
    else:  # the access in the same statement, as ``find`` reads it
        rows = session.execute(query.add_columns(*access_columns()),
                               {"username": user.username, "user_id": user.id}).all()
    for row in rows:
        _loaded_with_access(session, row[0], Access.OWNER if user.superuser
                            else effective_access(False, row[1], row[2]))
    return [row[0] for row in rows]


def usable_without_connection(integration: Integration) -> bool:
    """The integration's own credentials (or none at all) are enough to call it. A
    database, whatever its authType, logs in with its own account in shared mode and
    with each user's in per-user mode."""
    if integration.category == database_dialects.DATABASE:
        return integration.mode == "shared"
    match integration.auth_type:
        case "none":
            return True
        case "apikey" | "bearer":
            return integration.has_api_key
        case "basic":
            return bool(integration.client_id) and integration.has_client_secret
    return False


# -- changes -----------------------------------------------------------------

def create(session: Session, user: User, values: Mapping[str, Any]) -> Integration:
    if not can_create(user):
        raise errors.Forbidden("creating integrations needs the integrations.create permission")
    integration = Integration(id=(values.get("id") or new_uuid()).lower(),
                              tenant_id=user.tenant_id, owner_id=user.username,
                              headers={}, data={})
    if values.get("id") and session.get(Integration, integration.id) is not None:
        raise errors.AlreadyExists("an integration with this id already exists")
    copied_from = None
    if source_ref := values.get("copy_from"):
        source = find(session, user, source_ref)
        _copy(source, integration)
        copied_from = configuration(source.integration)
    else:
        missing = [f for f in _REQUIRED if not values.get(f)]
        if missing:
            raise errors.ValidationFailed(
                "name and type are required", errors={f: ["Missing data for required field."]
                                                      for f in missing})
        values = with_catalogue_defaults(integration, values)
    for attribute, default in NULL_MEANS.items():
        if getattr(integration, attribute) is None:
            setattr(integration, attribute, default)
    apply(integration, values)
    if copied_from is not None:  # a copy pointed elsewhere is a re-pointing too
        _leave_secrets_behind(integration, copied_from, values)
    validate(integration)
    assign_slug(session, integration, values.get("slug"))  # also adds it to the session
    _saved(session, user, integration, None)
    webhook_events.emit(session, integration.tenant_id, "integration.created", integration,
                        actor=user.username)
    _loaded_with_access(session, integration, Access.OWNER)  # the creator owns it
    return integration


def _copy(source: Found, integration: Integration) -> None:
    """The source's configuration, and its secrets only for those who may share it: with
    them, a reader could send the source's key to a host of their choosing."""
    columns = COPIED + (tuple(SECRETS.values()) if source.access >= Access.SHARE else ())
    for column in columns:
        value = getattr(source.integration, column)
        setattr(integration, column, json.loads(json.dumps(value))
                if isinstance(value, (dict, list)) else value)
    integration.name = f"{source.integration.name} (copy)"


MERGED_BY_PATCH = ("data", "headers")  # objects a PATCH merges into (docs/api-conventions.md)


def patched(integration: Integration, changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` with its ``data`` and ``headers`` objects merged into the integration's
    (a JSON merge patch: ``null`` removes a member), so that ``update`` sees the whole
    objects that result, and checks them as it checks a PUT of them. A null ``data`` or
    ``headers`` still clears it."""
    merged = dict(changes)
    for attribute in MERGED_BY_PATCH:
        if isinstance(changes.get(attribute), dict):
            merged[attribute] = json_body.merge_patch(getattr(integration, attribute) or {},
                                                      changes[attribute])
    return merged


def update(session: Session, user: User, found: Found, changes: Mapping[str, Any]) -> Integration:
    require(found.access, Access.WRITE)
    integration = found.integration
    for field in _REQUIRED:
        if field in changes and not changes[field]:
            raise errors.ValidationFailed(f"{field} cannot be empty",
                                          errors={field: ["Field may not be null."]})
    before = configuration(integration)
    if found.access < Access.SHARE:
        _refuse_moving_credentials(integration, changes)
    apply(integration, changes)
    _leave_secrets_behind(integration, before, changes)
    validate(integration)
    if changes.get("slug") and changes["slug"] != integration.slug:
        assign_slug(session, integration, changes["slug"])
    session.flush()
    _saved(session, user, integration, before)
    webhook_events.emit(session, integration.tenant_id, "integration.updated", integration,
                        actor=user.username)
    return integration


def configuration(integration: Integration) -> dict[str, Any]:
    """The settable configuration by attribute name."""
    return {attribute: getattr(integration, attribute) for attribute in SETTABLE}


def _refuse_moving_credentials(integration: Integration, changes: Mapping[str, Any]) -> None:
    """403 before anything is written when the changes move credentials elsewhere."""
    before = configuration(integration)
    after = {**before, **{attribute: NULL_MEANS.get(attribute) if value is None else value
                          for attribute, value in changes.items() if attribute in SETTABLE}}
    credential_destinations.refuse_moving(before, after)


def _leave_secrets_behind(integration: Integration, before: Mapping[str, Any],
                          values: Mapping[str, Any]) -> None:
    """Drop the stored secrets whose destination moved from ``before``, unless ``values``
    brings new ones: whoever may re-point an integration may not take along a secret
    someone else stored (docs/security.md, "Copies and re-pointing")."""
    given = [secret for secret in SECRETS if values.get(secret) not in (None, "")]
    for secret in credential_destinations.secrets_left_behind(
            before, configuration(integration), given):
        setattr(integration, SECRETS[secret], None)


def _saved(session: Session, user: User, integration: Integration,
           before: Mapping[str, Any] | None) -> None:
    session.flush()
    for hook in _dependents(session).after_save:
        hook(session, user, integration, before)


def delete(session: Session, user: User, found: Found, force: bool = False) -> None:
    require(found.access, Access.OWNER)
    counts = {name: count(session, found.integration)
              for name, count in _dependents(session).usage_counters.items()}
    if any(counts.values()) and not force:
        raise IntegrationInUse(
            "the integration still has " + ", ".join(f"{n} {k}" for k, n in counts.items() if n)
            + "; delete with ?force=true to remove them too", counts=counts)
    webhook_events.emit(session, found.integration.tenant_id, "integration.deleted",
                        found.integration, actor=user.username)
    session.delete(found.integration)
    session.flush()
