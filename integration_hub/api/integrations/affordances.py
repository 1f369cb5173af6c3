"""What a caller may do with an integration, as links and HAL-FORMS templates.

docs/api-conventions.md, "Affordances": links and templates for actions the caller may not take are left out.
The levels here are those the services require (``acl.require``); the access
matrix test checks that every offered action succeeds and every withheld one is
refused, for every kind of caller.
"""

from __future__ import annotations

from typing import Any

from integration_hub.api.connections.schemas import ConnectBodySchema
from integration_hub.api.integrations.sharing import OwnerChangeSchema, ShareCreateSchema
from integration_hub.api.proxy.resources import EnvelopeSchema
from integration_hub.connections import connect_rules
from integration_hub.connections import programmatic as programmatic_connect
from integration_hub.hal.forms import template
from integration_hub.integrations import credential_destinations
from integration_hub.integrations import store as integrations
from integration_hub.integrations.acl import Access

# Links a plain reader does not get: rel -> the level following them needs.
LINK_LEVELS = {
    "inf:integration-share": Access.SHARE,  # setting or removing one principal's share
    "inf:connections": Access.OWNER,  # every user's connection
    "inf:requests": Access.OWNER,  # the request log of everyone's calls
    "inf:import": Access.WRITE,  # replacing stored records
}
# The OAuth2 fields of a programmatic connect (a code, or tokens obtained elsewhere).
_OAUTH_FIELDS = ("code", "codeVerifier", "redirectUri", "refreshToken", "accessToken",
                 "expiresIn")


def offers_link(rel: str, integration, access: Access) -> bool:
    if rel == "inf:connect":
        return connect_rules.may_connect(integration, access)
    if rel == "inf:account":  # no connection, no account
        return access >= Access.READ and not connect_rules.nothing_to_connect(integration)
    return access >= LINK_LEVELS.get(rel, Access.READ)


def templates(integration, access: Access, hrefs: dict[str, str],
              update_schema, current: dict[str, Any]) -> dict[str, Any]:
    """The HAL-FORMS templates of an integration for a caller with ``access``.

    ``hrefs``: rel -> href of the integration's links; ``update_schema``: the schema a
    PUT loads; ``current``: its current values by field name (secrets are never shown).
    """
    found: dict[str, Any] = {}
    me = hrefs["self"]
    if access >= Access.WRITE:
        # Below share access, where credentials go can only be sent back unchanged.
        fixed = () if access >= Access.SHARE else credential_destinations.fixed_for_writers(
            integrations.configuration(integration))
        found["default"] = template("PUT", me, update_schema, title="Change the integration",
                                   values=current, read_only=fixed)
    if access >= Access.OWNER:
        found["delete"] = template("DELETE", me, title="Delete the integration")
        found["forceDelete"] = template(
            "DELETE", f"{me}?force=true",
            title="Delete the integration with its connections, records, shares and tags")
        found["transfer"] = template("PUT", hrefs["inf:integration-owner"], OwnerChangeSchema(),
                                     title="Transfer ownership to a user or team")
    if access >= Access.SHARE:
        found["share"] = template("POST", hrefs["inf:integration-shares"], ShareCreateSchema(),
                                  title="Share with a user or team")
    if connect_rules.may_connect(integration, access):
        if connect := _connect_template(integration, hrefs["inf:connect"]):
            found["connect"] = connect
    found["request"] = template("POST", hrefs["inf:request"], EnvelopeSchema(),
                                title="Call the integration's API")
    return found


def _connect_template(integration, target: str) -> dict[str, Any] | None:
    """Programmatic connect with exactly the fields the integration's auth type takes."""
    fields = programmatic_connect.fields_to_connect(integration)
    if fields:
        return template("POST", target, ConnectBodySchema(only=fields), required=fields,
                        title="Connect with your credentials")
    if integration.auth_type == "oauth2":
        return template("POST", target, ConnectBodySchema(only=_OAUTH_FIELDS),
                        title="Connect with an authorization code or tokens")
    return None
