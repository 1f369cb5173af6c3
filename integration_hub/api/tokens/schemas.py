import marshmallow as ma

from integration_hub.api.common import HalSchema, href, page_schema
from integration_hub.hal_forms import template


class TokenSchema(HalSchema):
    id = ma.fields.String(dump_only=True)
    name = ma.fields.String(load_default="", validate=ma.validate.Length(max=128))
    prefix = ma.fields.String(dump_only=True, metadata={
        "description": "The token's first characters, to tell tokens apart"})
    username = ma.fields.Function(lambda t: t.user.username, dump_only=True)
    expires_at = ma.fields.AwareDateTime(data_key="expiresAt", allow_none=True,
                                         metadata={"description": "Optional expiry (UTC)"})
    last_used_at = ma.fields.DateTime(data_key="lastUsedAt", dump_only=True, allow_none=True)
    created_at = ma.fields.DateTime(data_key="createdAt", dump_only=True)

    def hal_links(self, token):
        return {"self": {"href": href("tokens.Token", token_id=token.id)},
                "inf:tokens": {"href": href("tokens.Tokens")}}

    def hal_templates(self, token):
        return {"delete": template("DELETE", href("tokens.Token", token_id=token.id),
                                   title="Revoke the token")}


class IssuedTokenSchema(TokenSchema):
    token = ma.fields.String(dump_only=True, metadata={
        "description": "The token itself; shown only in this answer"})


TokenPageSchema = page_schema(TokenSchema, "inf:token", "TokenPage")
