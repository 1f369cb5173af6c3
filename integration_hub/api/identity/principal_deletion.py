"""``DELETE /api/users/{username}`` and ``DELETE /api/teams/{teamId}`` share this: the
``successor`` argument, the links of a refusal, and revoking removed tokens once the
deletion has committed (docs/security.md, "Deleted principals")."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import marshmallow as ma

from integration_hub.api.common import href
from integration_hub.config import current_settings
from integration_hub.identity import deletion as principal_deletion
from integration_hub.oauth import revocation as upstream_revocation


class PrincipalDeleteArgsSchema(ma.Schema):
    successor = ma.fields.String(validate=ma.validate.Length(min=1, max=80), metadata={
        "description": "Principal id (a username or team:<slug>) that becomes the owner of "
                       "every integration the deleted user or team owns; needed when it "
                       "owns any"})


@contextmanager
def owned_integrations_linked() -> Iterator[None]:
    """A refusal for owned integrations embeds them, each with the link to transfer it."""
    try:
        yield
    except principal_deletion.OwnsIntegrations as refused:
        refused.extra["_embedded"] = {"inf:integration": [
            {"_links": {"self": {"href": href("integrations.Integration", integration_id=key)},
                        "inf:integration-owner": {"href": href("sharing.Owner",
                                                               integration_id=key)}},
             "id": key, "name": name}
            for key, name in refused.owned]}
        raise


def revoke_removed_tokens(deletion: principal_deletion.Deletion) -> None:
    """After the commit: the removed connections' tokens, at their servers, best effort."""
    upstream_revocation.revoke_all(deletion.revocations, current_settings().revocation_deadline)
