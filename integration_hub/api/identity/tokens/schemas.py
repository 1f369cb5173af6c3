import marshmallow as ma

from integration_hub.api.common import HalSchema, href, page_schema
from integration_hub.hal.forms import template
from integration_hub.identity.token_scopes import SCOPES


class TokenSchema(HalSchema):
    id = ma.fields.String(dump_only=True)
    name = ma.fields.String(load_default="", validate=ma.validate.Length(max=128))
    prefix = ma.fields.String(dump_only=True, metadata={
        "description": "The token's first characters, to tell tokens apart"})
    username = ma.fields.Function(lambda t: t.user.username, dump_only=True)
    scopes = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(SCOPES)),
        validate=ma.validate.Length(min=1), load_default=None, metadata={
            "description": "What the token may do: read (GET and HEAD on the API), proxy "
                           "(the request proxy, every method), admin (anything you may do, "
                           "including the other two). Default: every scope, or, made with "
                           "a token, that token's; never more than that token's"})
    parent_id = ma.fields.String(data_key="parentId", dump_only=True, allow_none=True, metadata={
        "description": "The token this one was made with; revoking it revokes this one"})
    expires_at = ma.fields.AwareDateTime(data_key="expiresAt", allow_none=True, metadata={
        "description": "Optional expiry (UTC). A token made with a token expires no later "
                       "than that token: the answer gives the effective expiry"})
    last_used_at = ma.fields.DateTime(data_key="lastUsedAt", dump_only=True, allow_none=True)
    created_at = ma.fields.DateTime(data_key="createdAt", dump_only=True)

    def hal_links(self, token):
        links = {"self": {"href": href("tokens.Token", token_id=token.id)},
                 "inf:tokens": {"href": href("tokens.Tokens")}}
        if token.parent_id is not None:
            links["inf:parent-token"] = {"href": href("tokens.Token", token_id=token.parent_id)}
        return links

    def hal_templates(self, token):
        return {"delete": template("DELETE", href("tokens.Token", token_id=token.id),
                                   title="Revoke the token (and every token made with it)")}


class IssuedTokenSchema(TokenSchema):
    token = ma.fields.String(dump_only=True, metadata={
        "description": "The token itself; shown only in this answer"})


TokenPageSchema = page_schema(TokenSchema, "inf:token", "TokenPage")
