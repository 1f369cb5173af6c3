import marshmallow as ma

from integration_hub.api.common import HalSchema, SearchPageArgsSchema, href, page_schema, template_href
from integration_hub.services import dbquery, directories
from integration_hub.services.catalogue import catalogue
from integration_hub.services.integration_rules import (
    API_KEY_LOCATIONS,
    AUTH_TYPES,
    MODES,
    is_uuid,
    normalise_auth_type,
    url_problem,
)


class HttpUrl(ma.fields.String):
    """An absolute http(s) URL; ``placeholders`` allows ``${connection.x}`` parts."""

    def __init__(self, *, placeholders: bool = False, **kwargs):
        super().__init__(allow_none=True, validate=ma.validate.Length(max=2048), **kwargs)
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
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return
    if url_problem(value):
        raise ma.ValidationError("must be an absolute http(s) URL or a path starting with /")


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
        "description": "Driver-specific configuration (authParams, pkce, allowedHosts, timeout...)"})
    credentials = ma.fields.Dict(keys=ma.fields.String(), load_only=True, allow_none=True,
                                 metadata={"description": "Write-only driver secrets; encrypted"})
    image_url = ma.fields.String(data_key="imageUrl", allow_none=True,
                                 validate=[ma.validate.Length(max=2048), _icon_location],
                                 metadata={"description": "Icon URL (http(s) or a path on the "
                                           "hub); defaults to the catalogue icon"})


class IntegrationCreateSchema(IntegrationUpdateSchema):
    id = ma.fields.String(validate=_uuid, metadata={"description": "Optional; generated when absent"})
    copy_from = ma.fields.String(data_key="copyFrom", metadata={
        "description": "Id or slug of a readable integration whose configuration and secrets "
                       "are copied; given fields override"})


def effective_image_url(integration) -> str | None:
    """The configured icon URL, else the catalogue icon matching its type or name."""
    if integration.image_url:
        return integration.image_url
    provider = catalogue().icon_for(integration.type, integration.name)
    return href("catalogue.TypeIcon", type_name=provider.type) if provider else None


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

    def hal_links(self, integration):
        key = integration.id
        links = {
            "self": {"href": href("integrations.Integration", integration_id=key)},
            "inf:integrations": {"href": href("integrations.Integrations")},
            "inf:integration-owner": {"href": href("sharing.Owner", integration_id=key)},
            "inf:integration-shares": {"href": href("sharing.Shares", integration_id=key)},
            "inf:integration-share": {
                "href": template_href("sharing.Share", integration_id=key,
                                      principal_id="{principalId}"),
                "templated": True},
            "inf:tags": {"href": href("tags.IntegrationTags", integration_id=key)},
            "inf:connect": {"href": href("connections.Connect", integration_id=key)},
            "inf:connection": {"href": href("connections.Connection", integration_id=key)},
            "inf:connections": {"href": href("connections.Connections", integration_id=key)},
            "inf:account": {"href": href("connections.Account", integration_id=key)},
            "inf:request": {"href": href("proxy.Envelope", integration_id=key)},
            "inf:requests": {"href": href("proxy.Requests", integration_id=key)},
            "inf:records": {"href": href("records.Records", integration_id=key)},
            "inf:store": {"href": href("records.Store", integration_id=key)},
            "inf:import": {"href": href("records.Import", integration_id=key)},
            "inf:sync": {"href": href("sync.Sync", integration_id=key)},
        }
        if integration.has_icon or effective_image_url(integration):
            links["inf:icon"] = {"href": href("icons.Icon", integration_id=key)}
        links["inf:test"] = {"href": href("database.Test", integration_id=key)}
        if dbquery.is_database(integration):
            links["inf:query"] = {"href": href("database.Query", integration_id=key)}
            links["inf:schema"] = {"href": href("database.Schema", integration_id=key)}
        if integration.type in directories.DRIVERS:
            links["inf:directories-preview"] = {
                "href": href("directories.Preview", integration_id=key)}
        if catalogue().find(integration.type):
            links["inf:integration-type"] = {
                "href": href("catalogue.IntegrationType", type_name=integration.type)}
        return links


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


IntegrationPageSchema = page_schema(IntegrationSchema, "inf:integration", "IntegrationPage")
