"""Tenant tags and their assignment to integrations.

The use cases at the end each own their transaction (tags are not audited);
``precondition`` is the caller's ``If-Match`` check of the tag, run inside it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete as delete_rows
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integration_hub import errors
from integration_hub.audit.entries import Actor
from integration_hub.db.models import Tag, User, integration_tags
from integration_hub.db.session import Precondition, no_precondition, transaction
from integration_hub.integrations import store
from integration_hub.integrations.acl import Access, require
from integration_hub.integrations.store import Found

COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


class TagNotFound(errors.NotFound):
    code, title = "tag_not_found", "No such tag in this tenant"


def list_tags(session: Session, tenant_id: str, q: str | None, start: int,
              limit: int) -> tuple[list[Tag], int]:
    query = select(Tag).where(Tag.tenant_id == tenant_id)
    if q:
        query = query.where(func.lower(Tag.name).like(f"%{q.lower()}%"))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = session.scalars(query.order_by(func.lower(Tag.name), Tag.id).offset(start).limit(limit))
    return list(page), total


def get_tag(session: Session, tenant_id: str, tag_id: str) -> Tag:
    tag = session.get(Tag, tag_id)
    if tag is None or tag.tenant_id != tenant_id:
        raise TagNotFound(f"tag {tag_id!r} does not exist")
    return tag


def _name_taken(session: Session, tenant_id: str, name: str, other_than: str | None) -> bool:
    query = select(Tag.id).where(Tag.tenant_id == tenant_id,
                                 func.lower(Tag.name) == name.lower())
    if other_than:
        query = query.where(Tag.id != other_than)
    return session.scalars(query).first() is not None


def create_tag(session: Session, user: User, values: Mapping[str, Any]) -> Tag:
    if _name_taken(session, user.tenant_id, values["name"], None):
        raise errors.AlreadyExists(f"a tag named {values['name']!r} already exists")
    tag = Tag(tenant_id=user.tenant_id, name=values["name"], color=values.get("color"),
              created_by=user.username)
    session.add(tag)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise errors.AlreadyExists(f"a tag named {values['name']!r} already exists") from None
    return tag


def may_change(user: User, tag: Tag) -> bool:
    """Its creator and the tenant's administrators may rename, recolour and delete a tag."""
    return user.superuser or tag.created_by == user.username


def _require_tag_admin(user: User, tag: Tag) -> None:
    if not may_change(user, tag):
        raise errors.Forbidden("only the tag's creator or an administrator may change it")


def update_tag(session: Session, user: User, tag: Tag, changes: Mapping[str, Any]) -> Tag:
    _require_tag_admin(user, tag)
    if "name" in changes and _name_taken(session, tag.tenant_id, changes["name"], tag.id):
        raise errors.AlreadyExists(f"a tag named {changes['name']!r} already exists")
    for attribute in ("name", "color"):
        if attribute in changes:
            setattr(tag, attribute, changes[attribute])
    session.flush()
    return tag


def delete_tag(session: Session, user: User, tag: Tag) -> None:
    _require_tag_admin(user, tag)
    session.delete(tag)
    session.flush()


def tag_integration(session: Session, found: Found, tag_id: str) -> tuple[Tag, bool]:
    """Put a tag on an integration (write access); answers whether it was new."""
    require(found.access, Access.WRITE)
    tag = get_tag(session, found.integration.tenant_id, tag_id)
    if tag in found.integration.tags:
        return tag, False
    session.execute(insert(integration_tags).values(integration_id=found.integration.id,
                                                    tag_id=tag.id))
    session.expire(found.integration, ["tags"])
    return tag, True


def untag_integration(session: Session, found: Found, tag_id: str) -> None:
    require(found.access, Access.WRITE)
    tag = get_tag(session, found.integration.tenant_id, tag_id)
    removed = session.execute(delete_rows(integration_tags).where(
        integration_tags.c.integration_id == found.integration.id,
        integration_tags.c.tag_id == tag.id)).rowcount
    if not removed:
        raise TagNotFound(f"the integration is not tagged {tag.name!r}")
    session.expire(found.integration, ["tags"])


# -- use cases ---------------------------------------------------------------




def create(actor: Actor, values: Mapping[str, Any]) -> Tag:
    with transaction() as session:
        return create_tag(session, actor.user, values)


def update(actor: Actor, tag_id: str, changes: Mapping[str, Any],
           precondition: Precondition = no_precondition) -> Tag:
    """Rename or recolour a tag (its creator or an administrator)."""
    with transaction() as session:
        tag = get_tag(session, actor.tenant_id, tag_id)
        precondition(tag)
        return update_tag(session, actor.user, tag, changes)


def delete(actor: Actor, tag_id: str, precondition: Precondition = no_precondition) -> None:
    """Delete a tag and take it off every integration (its creator or an administrator)."""
    with transaction() as session:
        tag = get_tag(session, actor.tenant_id, tag_id)
        precondition(tag)
        delete_tag(session, actor.user, tag)


def tag(actor: Actor, integration_id: str, tag_id: str) -> tuple[Tag, bool]:
    """Put a tag on an integration (write access): the tag and whether it was new there."""
    with transaction() as session:
        return tag_integration(session, store.find(session, actor.user, integration_id), tag_id)


def untag(actor: Actor, integration_id: str, tag_id: str) -> None:
    with transaction() as session:
        untag_integration(session, store.find(session, actor.user, integration_id), tag_id)
