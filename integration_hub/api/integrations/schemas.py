import re

import marshmallow as ma
from flask import request

from integration_hub.api.common import (
    HalSchema,
    SearchPageArgsSchema,
    href,
    hrefs_from_request,
    page_schema,
    template_href,
)
from integration_hub.api.integrations import affordances
from integration_hub.databases import queries as dbquery
from integration_hub.integrations import icons
from integration_hub.integrations.acl import Access, caller_access
from integration_hub.integrations.catalogue import catalogue
from integration_hub.integrations.rules import (
    API_KEY_LOCATIONS,
    AUTH_TYPES,
    MODES,
    is_uuid,
    normalise_auth_type,
    url_problem,
)
from integration_hub.proxy import directories


class HttpUrl(ma.fields.String):
    """An absolute http(s) URL; ``placeholders`` allows ``${connection.x}`` parts."""

    def __init__(self, *, placeholders: bool = False, **kwargs):
        metadata = {"input": "url", **kwargs.pop("metadata", {})}
        super().__init__(allow_none=True, validate=ma.validate.Length(max=2048),
                         metadata=metadata, **kwargs)
        self.placeholders = placeholders

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if problem := url_problem(text, placeholders=self.placeholders):
            raise ma.ValidationError(problem)
        return text


class AuthType(ma.fields.String):
    """Case-insensitive on input (``apiKey`` is accepted), lower-case on output."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = normalise_auth_type(super()._deserialize(value, attr, data, **kwargs))
        if text not in AUTH_TYPES:
            raise ma.ValidationError(f"must be one of {', '.join(AUTH_TYPES)}")
        return text


def _icon_location(value: str) -> None:
    """An image elsewhere (a link for clients) or a catalogue icon of the hub's own."""
    if value.startswith("/") and icons.catalogue_icon_named(value):
        return
    if value.startswith("/") or url_problem(value):
        raise ma.ValidationError("must be an absolute http(s) URL or the path of a catalogue "
                                 "icon (/api/integration-types/<type>/icon)")


def _uuid(value: str) -> None:
    if not is_uuid(value):
        raise ma.ValidationError("must be a UUID")


class IntegrationUpdateSchema(ma.Schema):
    """Fields a caller may set. Omitted fields keep their value; null clears."""

    name = ma.fields.String(validate=ma.validate.Length(min=1, max=128), allow_none=True)
    slug = ma.fields.String(validate=ma.validate.Length(min=1, max=120), metadata={
        "description": "Unique per tenant; derived from the name when not given"})
    type = ma.fields.String(validate=[ma.validate.Length(min=1, max=64),
                                      ma.validate.Regexp(r"^[a-z0-9][a-z0-9._-]*$")],
                            allow_none=True)
    category = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=64))
    description = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=10000))
    mode = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(MODES))
    auth_type = AuthType(data_key="authType", allow_none=True)
    enabled = ma.fields.Boolean(allow_none=True)
    embedded = ma.fields.Boolean(allow_none=True)
    scope = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=4096))
    auth_uri = HttpUrl(data_key="authUri")
    token_uri = HttpUrl(data_key="tokenUri")
    revocation_uri = HttpUrl(data_key="revocationUri")
    user_info_uri = HttpUrl(data_key="userInfoUri")
    api_base_uri = HttpUrl(data_key="apiBaseUri", placeholders=True, metadata={
        "description": "Base of proxied requests; may hold ${connection.<field>}"})
    client_id = ma.fields.String(data_key="clientId", allow_none=True,
                                 validate=ma.validate.Length(max=512))
    client_secret = ma.fields.String(data_key="clientSecret", load_only=True, allow_none=True,
                                     validate=ma.validate.Length(max=4096),
                                     metadata={"description": "Write-only; encrypted at rest"})
    basic_token_auth = ma.fields.Boolean(data_key="basicTokenAuth", allow_none=True)
    api_key = ma.fields.String(data_key="apiKey", load_only=True, allow_none=True,
                               validate=ma.validate.Length(max=8192),
                               metadata={"description": "Write-only; encrypted at rest"})
    api_key_location = ma.fields.String(data_key="apiKeyLocation", allow_none=True,
                                        validate=ma.validate.OneOf(API_KEY_LOCATIONS))
    api_key_name = ma.fields.String(data_key="apiKeyName", allow_none=True,
                                    validate=ma.validate.Length(min=1, max=128))
    headers = ma.fields.Dict(keys=ma.fields.String(validate=ma.validate.Length(min=1, max=128)),
                             values=ma.fields.String(validate=ma.validate.Length(max=8192)),
                             allow_none=True, metadata={
                                 "description": "Header name -> template sent with every proxied call"})
    data = ma.fields.Dict(keys=ma.fields.String(), allow_none=True, metadata={
        "description": "Driver-specific configuration (authParams, pkce, allowedHosts, "
                       "credentialOrigins, timeout...); allowedHosts, credentialOrigins and a "
                       "database's dialect, host, port, path, sslmode and "
                       "options change only with share access"})
    credentials = ma.fields.Dict(keys=ma.fields.String(), load_only=True, allow_none=True,
                                 metadata={"description": "Write-only driver secrets; encrypted"})
    image_url = ma.fields.String(data_key="imageUrl", allow_none=True,
                                 validate=[ma.validate.Length(max=2048), _icon_location],
                                 metadata={"description": "Icon: an http(s) URL (a link for "
                                           "clients, never served by the hub) or a catalogue "
                                           "icon's path; defaults to the catalogue icon"})


class IntegrationPatchSchema(IntegrationUpdateSchema):
    """A PATCH: as a PUT, but ``data`` and ``headers`` are JSON merge patches of the stored
    objects (docs/api-conventions.md, "Changing a resource")."""

    headers = ma.fields.Dict(keys=ma.fields.String(validate=ma.validate.Length(min=1, max=128)),
                             values=ma.fields.String(validate=ma.validate.Length(max=8192),
                                                     allow_none=True),
                             allow_none=True, metadata={
                                 "description": "Header name -> template, merged into the "
                                                "stored ones; null removes a header"})
    data = ma.fields.Dict(keys=ma.fields.String(), allow_none=True, metadata={
        "description": "Merged into the stored configuration (JSON merge patch, RFC 7396): "
                       "null removes a member, objects merge, other values replace; the "
                       "result follows the rules of a PUT"})


class IntegrationCreateSchema(IntegrationUpdateSchema):
    id = ma.fields.String(validate=_uuid, metadata={"description": "Optional; generated when absent"})
    teams = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=70)),
                           load_only=True, validate=ma.validate.Length(max=100), metadata={
                               "description": "Teams (team:<slug> or <slug>) given read access "
                                              "with the integration, in the same transaction"})
    copy_from = ma.fields.String(data_key="copyFrom", metadata={
        "description": "Id or slug of a readable integration whose configuration is copied "
                       "(its secrets too with share access to it); given fields override"})


# Hrefs are built once per request (url_for is slow) and kept in its WSGI environ.
_KEY = "__integration_hub_key__"  # stands for the id in cached hrefs; url_for keeps it as is
_SAFE_KEY = re.compile(r"[A-Za-z0-9-]+")  # ids url_for leaves unquoted (UUIDs)
_CACHE = "integration_hub.integration_hrefs"


def effective_image_url(integration) -> str | None:
    """The configured icon URL, else the catalogue icon matching its type or name."""
    if integration.image_url:
        return integration.image_url
    provider = catalogue().icon_for(integration.type, integration.name)
    return _type_href("catalogue.TypeIcon", provider.type) if provider else None


def _type_href(endpoint: str, type_name: str) -> str:
    """``href(endpoint, type_name=...)``, built once per request and type."""
    if not hrefs_from_request():
        return href(endpoint, type_name=type_name)
    built = request.environ.setdefault(_CACHE + ".types", {})
    if (endpoint, type_name) not in built:
        built[endpoint, type_name] = href(endpoint, type_name=type_name)
    return built[endpoint, type_name]


# Where an integration's links point: rel -> endpoint ("inf:integration-share" is templated).
_ENDPOINTS = {
    "self": "integrations.Integration",
    "inf:integrations": "integrations.Integrations",
    "inf:integration-owner": "sharing.Owner",
    "inf:integration-shares": "sharing.Shares",
    "inf:integration-share": "sharing.Share",
    "inf:tags": "tags.IntegrationTags",
    "inf:connect": "connections.Connect",
    "inf:connection": "connections.Connection",
    "inf:connections": "connections.Connections",
    "inf:account": "connections.Account",
    "inf:request": "proxy.Envelope",
    "inf:requests": "proxy.Requests",
    "inf:records": "records.Records",
    "inf:store": "records.Store",
    "inf:import": "records.Import",
    "inf:sync": "sync.Sync",
    "inf:icon": "icons.Icon",
    "inf:test": "database.Test",
    "inf:query": "database.Query",
    "inf:schema": "database.Schema",
    "inf:directories-preview": "directories.Preview",
}
# The links every integration has, in answer order.
_ALWAYS = ("self", "inf:integrations", "inf:integration-owner", "inf:integration-shares",
           "inf:integration-share", "inf:tags", "inf:connect", "inf:connection",
           "inf:connections", "inf:account", "inf:request", "inf:requests", "inf:records",
           "inf:store", "inf:import", "inf:sync")


def _integration_hrefs(key: str, rels: list[str]) -> dict[str, str]:
    """rel -> href for the integration ``key``, for each of ``rels`` in order.

    url_for costs tens of microseconds and a listed item has twenty links, so a request
    builds each href once with a stand-in id and fills in the ids of its items. The
    cache lives in the WSGI environ: one request, one script root.
    """
    if not (hrefs_from_request() and _SAFE_KEY.fullmatch(key)):
        built = _build_hrefs(key)
        return {rel: built[rel] for rel in rels}
    parts = request.environ.get(_CACHE)
    if parts is None:  # rel -> the href cut where the id goes
        parts = request.environ[_CACHE] = {rel: url.split(_KEY)
                                           for rel, url in _build_hrefs(_KEY).items()}
    return {rel: key.join(parts[rel]) for rel in rels}


def _build_hrefs(key: str) -> dict[str, str]:
    hrefs = {rel: href(endpoint, integration_id=key) for rel, endpoint in _ENDPOINTS.items()
             if rel not in ("inf:integrations", "inf:integration-share")}
    hrefs["inf:integrations"] = href("integrations.Integrations")
    hrefs["inf:integration-share"] = template_href("sharing.Share", integration_id=key,
                                                   principal_id="{principalId}")
    return hrefs


class IntegrationSchema(HalSchema, IntegrationUpdateSchema):
    id = ma.fields.String(dump_only=True)
    image_url = ma.fields.Function(effective_image_url, data_key="imageUrl")
    has_client_secret = ma.fields.Boolean(data_key="hasClientSecret", dump_only=True)
    has_api_key = ma.fields.Boolean(data_key="hasApiKey", dump_only=True)
    has_credentials = ma.fields.Boolean(data_key="hasCredentials", dump_only=True)
    owner_id = ma.fields.String(data_key="ownerId", dump_only=True)
    supports_upload = ma.fields.Boolean(data_key="supportsUpload", dump_only=True)
    created_at = ma.fields.DateTime(data_key="createdAt", dump_only=True)
    updated_at = ma.fields.DateTime(data_key="updatedAt", dump_only=True)

    def __init__(self, *args, access: Access | None = None, **kwargs):
        """``access``: links and templates for this level instead of the caller's (event
        payloads describe the integration to the tenant's administrators)."""
        super().__init__(*args, **kwargs)
        self.access = access

    def _access(self, integration) -> Access:
        return self.access if self.access is not None else caller_access(integration)

    def hal_links(self, integration):
        access = self._access(integration)
        rels = [rel for rel in _ALWAYS if affordances.offers_link(rel, integration, access)]
        if icons.serves_icon(integration):
            rels.append("inf:icon")
        rels.append("inf:test")
        if dbquery.is_database(integration):
            rels += ("inf:query", "inf:schema")
        if integration.type in directories.DRIVERS:
            rels.append("inf:directories-preview")
        links = {rel: {"href": url} for rel, url in _integration_hrefs(integration.id, rels).items()}
        if "inf:integration-share" in links:
            links["inf:integration-share"]["templated"] = True
        if catalogue().find(integration.type):
            links["inf:integration-type"] = {
                "href": _type_href("catalogue.IntegrationType", integration.type)}
        return links

    def hal_templates(self, integration):
        hrefs = _integration_hrefs(integration.id, list(_ENDPOINTS))
        return affordances.templates(integration, self._access(integration), hrefs,
                                     IntegrationUpdateSchema(),
                                     IntegrationUpdateSchema().dump(integration))


class IntegrationQueryArgsSchema(SearchPageArgsSchema):
    type = ma.fields.String()
    category = ma.fields.String()
    supports_upload = ma.fields.Boolean(data_key="supportsUpload")
    tag = ma.fields.String(metadata={"description": "Tag id or name"})
    mode = ma.fields.String(validate=ma.validate.OneOf(MODES))
    auth_type = ma.fields.String(data_key="authType")


class DeleteArgsSchema(ma.Schema):
    force = ma.fields.Boolean(load_default=False, metadata={
        "description": "Also remove connections, records, shares and tags"})


class ShareSummarySchema(ma.Schema):
    principal_id = ma.fields.String(data_key="principalId")
    access_level = ma.fields.Integer(data_key="accessLevel")


class IntegrationListItemSchema(ma.Schema):
    """One row of the flat gallery list."""

    id = ma.fields.String()
    name = ma.fields.String()
    slug = ma.fields.String()
    type = ma.fields.String()
    category = ma.fields.String(allow_none=True)
    description = ma.fields.String()
    mode = ma.fields.String()
    auth_type = ma.fields.String(data_key="authType")
    enabled = ma.fields.Boolean()
    embedded = ma.fields.Boolean()
    image_url = ma.fields.Function(effective_image_url, data_key="imageUrl")
    supports_upload = ma.fields.Boolean(data_key="supportsUpload")
    owner_id = ma.fields.String(data_key="ownerId")
    shared = ma.fields.Function(lambda i: bool(i.shares))
    tags = ma.fields.Function(lambda i: [t.id for t in i.tags])
    sharing = ma.fields.List(ma.fields.Nested(ShareSummarySchema), attribute="shares")
    connected = ma.fields.Boolean(metadata={
        "description": "The caller can call it now (its own credentials suffice, or the "
                       "caller has a usable connection)"})


IntegrationPageSchema = page_schema(IntegrationSchema, "inf:integration", "IntegrationPage",
                                    compiled_items=True)
