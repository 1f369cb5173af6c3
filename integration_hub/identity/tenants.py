"""Tenant use cases: an administrator renames their tenant or replaces its settings.

The function owns its transaction and its audit entry; the rules are in ``directory``.
``precondition`` is the caller's check that the tenant is still the version it read
(``If-Match``), run inside the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integration_hub.audit.actions import audited
from integration_hub.audit.entries import Actor
from integration_hub.db.models import Tenant
from integration_hub.db.session import Precondition, no_precondition, transaction
from integration_hub.identity import directory


def update(actor: Actor, changes: Mapping[str, Any], precondition: Precondition = no_precondition) -> Tenant:
    """Change the actor's own tenant (administrators). A stale ``If-Match`` is answered
    before the actor's rights are looked at, as it always was."""
    with audited(actor, "tenant.update", "tenant", actor.tenant_id) as action, \
            transaction() as session:
        tenant = session.get(Tenant, actor.tenant_id)  # the actor's own: it exists
        precondition(tenant)
        directory.update_tenant(session, actor.user, tenant, changes)
        action.succeeded(session, fields=sorted(changes))
    return tenant
