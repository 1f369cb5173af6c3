"""What event payloads carry: the same HAL representation a GET of the resource
answers (schemas mark secrets load-only, so none can appear)."""

from integration_hub.api.connections.schemas import ConnectionSchema
from integration_hub.api.integrations.schemas import IntegrationSchema
from integration_hub.api.integrations.sharing import ShareSchema, with_principals
from integration_hub.api.sync.schemas import SyncRunSchema
from integration_hub.api.webhooks.schemas import WebhookSchema
from integration_hub.integrations.acl import Access
from integration_hub.webhooks.events import REPRESENTATIONS


def _share(session, share):
    return ShareSchema().dump(with_principals(session, share.integration, [share])[0])


REPRESENTATIONS.update({
    "integration": lambda session, integration: IntegrationSchema(access=Access.OWNER).dump(
        integration),
    "share": _share,
    "connection": lambda session, connection: ConnectionSchema(as_caller=False).dump(
        connection),
    "sync": lambda session, run: SyncRunSchema().dump(run),
    "webhook": lambda session, hook: WebhookSchema().dump(hook),
})
