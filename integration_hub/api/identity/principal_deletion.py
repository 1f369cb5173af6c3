"""``DELETE /api/users/{username}`` and ``DELETE /api/teams/{teamId}`` share this: the
``successor`` argument and the links of a refusal (docs/security.md, "Deleted
principals")."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import marshmallow as ma

from integration_hub.api.common import href
from integration_hub.identity import deletion as principal_deletion


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
