"""What event payloads carry: the same HAL representation a GET of the resource
answers (schemas mark secrets load-only, so none can appear), links built with the URL
adapter the webhooks package binds to its neutral base (webhooks/events.py)."""

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session
from werkzeug.routing import MapAdapter

from integration_hub.api.common import hrefs_from
from integration_hub.api.connections.schemas import ConnectionSchema
from integration_hub.api.integrations.schemas import IntegrationSchema
from integration_hub.api.integrations.sharing import ShareSchema
from integration_hub.api.sync.schemas import SyncRunSchema
from integration_hub.api.webhooks.schemas import WebhookSchema
from integration_hub.integrations.acl import Access
from integration_hub.integrations.sharing import with_principals


def _share(session, share):
    return ShareSchema().dump(with_principals(session, share.integration, [share])[0])


def _with_links(dump: Callable[[Session, Any], dict[str, Any]]):
    def represent(session: Session, subject: Any, links: MapAdapter) -> dict[str, Any]:
        with hrefs_from(links):
            return dump(session, subject)
    return represent


# kind -> representation; the app factory hands them to webhooks/events.py.
REPRESENTATIONS = {kind: _with_links(dump) for kind, dump in {
    "integration": lambda session, integration: IntegrationSchema(access=Access.OWNER).dump(
        integration),
    "share": _share,
    "connection": lambda session, connection: ConnectionSchema(as_caller=False).dump(
        connection),
    "sync": lambda session, run: SyncRunSchema().dump(run),
    "webhook": lambda session, hook: WebhookSchema().dump(hook),
}.items()}
