"""The HAL API: one package per resource, each with its blueprint."""

from __future__ import annotations

from flask import Flask, request

from integration_hub.api.audit import resources as audit
from integration_hub.api.connections import resources as connections
from integration_hub.api.databases import resources as database
from integration_hub.api.docs_page import register_docs_assets
from integration_hub.api.extensions import Api
from integration_hub.api.identity.session import resources as session
from integration_hub.api.identity.teams import resources as teams
from integration_hub.api.identity.tenant import resources as tenant
from integration_hub.api.identity.tokens import resources as tokens
from integration_hub.api.identity.users import resources as users
from integration_hub.api.integrations import icons, sharing
from integration_hub.api.integrations import resources as integrations
from integration_hub.api.integrations.catalogue import resources as catalogue
from integration_hub.api.integrations.tags import resources as tags
from integration_hub.api.proxy import resources as proxy
from integration_hub.api.proxy.directories import resources as directories
from integration_hub.api.records import resources as records
from integration_hub.api.root import resources as root
from integration_hub.api.sync import resources as sync
from integration_hub.api.webhooks import resources as webhooks
from integration_hub.edge.security import authenticate_request

RESOURCE_MODULES = (root, session, users, teams, tokens, tenant, integrations, sharing, icons,
                    tags, catalogue, connections, proxy, database, directories, records, sync, webhooks,
                    audit)


def register_blueprints(app: Flask, api: Api) -> None:
    entry_points: dict[str, str] = {}
    admin_entry_points: dict[str, str] = {}
    for module in RESOURCE_MODULES:
        api.register_blueprint(module.blp)
        entry_points.update(getattr(module, "ENTRY_POINTS", {}))
        admin_entry_points.update(getattr(module, "ADMIN_ENTRY_POINTS", {}))
    app.extensions[root.ENTRY_POINTS_KEY] = entry_points
    app.extensions[root.ADMIN_ENTRY_POINTS_KEY] = admin_entry_points
    api_blueprints = frozenset(module.blp.name for module in RESOURCE_MODULES)

    @app.before_request
    def _authenticate():
        if request.blueprint in api_blueprints:
            authenticate_request()

    register_docs_assets(app)

