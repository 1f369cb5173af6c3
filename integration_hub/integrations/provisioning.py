"""``provision``: get or create the integration for a catalogue type, exactly once."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration_hub import errors
from integration_hub.audit.actions import audited
from integration_hub.audit.entries import Actor
from integration_hub.config import Settings, current_settings
from integration_hub.db.locks import serialise_tenant_writes
from integration_hub.db.models import Integration, User
from integration_hub.db.session import transaction
from integration_hub.integrations import store as integrations
from integration_hub.integrations.acl import can_create, readable_clause
from integration_hub.integrations.catalogue import ProviderType, catalogue


class ProviderNotConfigured(errors.Conflict):
    code, title = "provider_not_configured", "The hub has no OAuth client for this provider"


def provision(actor: Actor, driver_type: str) -> tuple[Integration, bool]:
    """The actor's readable integration of the catalogue type (``driver_type``, or an
    alias), or a new one they own: (integration, created). Only a creation is audited."""
    with audited(actor, "integration.create", "integration") as action, \
            transaction() as session:
        integration, created = _get_or_create(session, actor.user, driver_type,
                                              current_settings())
        if created:
            action.succeeded(session, integration.id, name=integration.name,
                             type=integration.type, provisioned=True)
    return integration, created


def _get_or_create(session: Session, user: User, driver_type: str,
                   settings: Settings) -> tuple[Integration, bool]:
    """The caller's readable integration of the type, or a new one: (integration, created)."""
    provider = catalogue().resolve(driver_type)
    if provider is None:
        raise errors.ValidationFailed(f"the catalogue has no type {driver_type!r}",
                                      errors={"driverType": ["unknown integration type"]})
    existing = _readable_of_type(session, user, provider.type)
    if existing is not None:
        return integrations.find(session, user, existing.id).integration, False
    if not can_create(user):
        raise errors.Forbidden("no integration of this type exists yet, and creating one needs "
                               "the integrations.create permission")
    # End the read transaction, then take the tenant's write lock: concurrent
    # provisioners queue here, and all but the first find the one it created.
    session.commit()
    serialise_tenant_writes(session, user.tenant_id)
    existing = _readable_of_type(session, user, provider.type)
    if existing is not None:
        return integrations.find(session, user, existing.id).integration, False
    return integrations.create(session, user, _values(provider, settings)), True


def _readable_of_type(session: Session, user: User, type_name: str) -> Integration | None:
    return session.scalars(
        select(Integration).where(readable_clause(user), Integration.type == type_name,
                                  Integration.embedded.is_(False))
        .order_by(Integration.created_at, Integration.id).limit(1)).first()


def _values(provider: ProviderType, settings: Settings) -> dict:
    values = {"name": provider.name, "type": provider.type}
    if provider.spec.get("authType") == "oauth2":
        credentials = settings.provider_credentials.get(provider.type)
        if credentials is None:
            variable = "HUB_PROVIDER_" + provider.type.upper().replace("-", "_")
            raise ProviderNotConfigured(
                f"set {variable}_CLIENT_ID and {variable}_CLIENT_SECRET to the OAuth client "
                f"registered with {provider.name}, then provision again")
        values["client_id"], values["client_secret"] = credentials
    return values
