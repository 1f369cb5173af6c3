"""``/api/integration-types`` and the icon registry: the built-in provider catalogue."""

import marshmallow as ma
from flask import current_app
from flask.views import MethodView

from integration_hub.api.common import HalSchema, SearchPageArgsSchema, hal_page, href, page_schema
from integration_hub.api.extensions import Blueprint
from integration_hub.edge.security import public
from integration_hub.integrations.catalogue import catalogue

blp = Blueprint("catalogue", __name__, url_prefix="/api",
                description="The built-in catalogue of provider types")
ENTRY_POINTS = {"inf:integration-types": "catalogue.IntegrationTypes",
                "inf:integration-icon-registry": "catalogue.IconRegistry"}

SVG_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
               "X-Content-Type-Options": "nosniff"}


def type_icon_href(type_name: str) -> str:
    return href("catalogue.TypeIcon", type_name=type_name)


def _spec(key, **kwargs):
    return ma.fields.Function(lambda provider: provider.spec.get(key), **kwargs)


class IntegrationTypeSchema(HalSchema):
    """A provider type; defaults use an integration's field names."""

    type = _spec("type")
    name = _spec("name")
    description = _spec("description")
    category = _spec("category")
    aliases = _spec("aliases")
    authType = _spec("authType")
    mode = _spec("mode")
    authUri = _spec("authUri")
    tokenUri = _spec("tokenUri")
    revocationUri = _spec("revocationUri")
    userInfoUri = _spec("userInfoUri")
    scope = _spec("scope")
    apiBaseUri = _spec("apiBaseUri")
    basicTokenAuth = _spec("basicTokenAuth")
    apiKeyLocation = _spec("apiKeyLocation")
    apiKeyName = _spec("apiKeyName")
    headers = _spec("headers")
    accountFields = _spec("accountFields", metadata={
        "description": "Where email, displayName and accountId are found in the userinfo answer"})
    supportsUpload = _spec("supportsUpload")
    docsUrl = _spec("docsUrl")
    data = ma.fields.Function(lambda p: {"authParams": dict(p.spec.get("authParams") or {})})
    dataSchema = ma.fields.Function(lambda p: catalogue().data_schema(p.type), metadata={
        "description": "JSON Schema (2020-12) of the integration's data"})
    imageUrl = ma.fields.Function(lambda p: type_icon_href(p.type))

    def hal_links(self, provider):
        return {"self": {"href": href("catalogue.IntegrationType", type_name=provider.type)},
                "inf:icon": {"href": type_icon_href(provider.type)},
                "inf:integration-types": {"href": href("catalogue.IntegrationTypes")},
                "inf:provision": {"href": href("integrations.Provision")}}


class TypeQueryArgsSchema(SearchPageArgsSchema):
    category = ma.fields.String()


class IconRegistryEntrySchema(ma.Schema):
    name = ma.fields.String()
    aliases = ma.fields.List(ma.fields.String())
    imageUrl = ma.fields.String()


IntegrationTypePageSchema = page_schema(IntegrationTypeSchema, "inf:integration-type",
                                        "IntegrationTypePage")


@blp.route("/integration-types")
class IntegrationTypes(MethodView):
    @blp.arguments(TypeQueryArgsSchema, location="query")
    @blp.response(200, IntegrationTypePageSchema)
    @blp.problems(401)
    def get(self, args):
        """The provider types the hub knows, with their defaults"""
        found = catalogue().search(args.get("q"), args.get("category"))
        start, limit = args["start"], args["limit"]
        return hal_page("catalogue.IntegrationTypes", "inf:integration-type",
                        found[start:start + limit], start, limit, len(found))


@blp.route("/integration-types/<type_name>")
class IntegrationType(MethodView):
    @blp.response(200, IntegrationTypeSchema)
    @blp.problems(401, 404)
    def get(self, type_name):
        """One provider type"""
        return catalogue().get(type_name)


@public
@blp.route("/integration-types/<type_name>/icon")
class TypeIcon(MethodView):
    @blp.response(200, content_type="image/svg+xml")
    @blp.problems(404)
    def get(self, type_name):
        """The type's icon (SVG; public, like any static asset)"""
        svg = catalogue().icon_svg(catalogue().get(type_name).type)
        response = current_app.response_class(svg, mimetype="image/svg+xml", headers=SVG_HEADERS)
        response.cache_control.public = True
        response.cache_control.max_age = 86400
        return response


@blp.route("/integration-icon-registry")
class IconRegistry(MethodView):
    @blp.response(200, IconRegistryEntrySchema(many=True), content_type="application/json")
    @blp.problems(401)
    def get(self):
        """Names and aliases with the icon each matches (lower-case, longest alias first)"""
        return [{"name": p.name, "aliases": p.aliases, "imageUrl": type_icon_href(p.type)}
                for p in catalogue().all()]
