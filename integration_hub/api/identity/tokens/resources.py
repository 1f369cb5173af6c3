"""``/api/tokens``: the caller's hub API tokens."""

from flask.views import MethodView

from integration_hub.api.common import PageArgsSchema, hal_page, href
from integration_hub.api.extensions import Blueprint
from integration_hub.api.identity.tokens.schemas import IssuedTokenSchema, TokenPageSchema, TokenSchema
from integration_hub.db.session import db_session
from integration_hub.edge.conditional import if_match
from integration_hub.edge.security import current_actor, current_token_id, current_user
from integration_hub.hal.forms import template
from integration_hub.identity import api_tokens, tokens

blp = Blueprint("tokens", __name__, url_prefix="/api", description="Hub API tokens")
ENTRY_POINTS = {"inf:tokens": "tokens.Tokens"}


@blp.route("/tokens")
class Tokens(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, TokenPageSchema)
    @blp.problems(401)
    def get(self, args):
        """Your tokens (never the token values)"""
        start, limit = args["start"], args["limit"]
        mine, total = tokens.tokens_of(db_session(), current_user(), start, limit)
        return hal_page("tokens.Tokens", "inf:token", mine, start, limit, total,
                        templates=lambda: {"default": template(
                            "POST", href("tokens.Tokens"), TokenSchema(),
                            title="Create a token (shown once)")})

    @blp.arguments(TokenSchema)
    @blp.response(201, IssuedTokenSchema)
    @blp.problems(400, 401, 403, 413, 415)
    def post(self, values):
        """Create a token; the answer is the only time it is shown. Made with a token, it
        is that token's child: no broader, expiring no later, revoked with it"""
        issued = api_tokens.create(current_actor(), values, parent_id=current_token_id())
        record = issued.record
        record.token = issued.plain
        return record, 201, {"Location": href("tokens.Token", token_id=record.id),
                             "Cache-Control": "no-store"}


@blp.route("/tokens/<token_id>")
class Token(MethodView):
    @blp.response(200, TokenSchema)
    @blp.problems(401, 404)
    def get(self, token_id):
        """One of your tokens"""
        return tokens.get_token(db_session(), current_user(), token_id)

    @blp.response(204)
    @blp.problems(401, 404, 412)
    def delete(self, token_id):
        """Revoke a token and every token made with it, down the line"""
        api_tokens.revoke(current_actor(), token_id, if_match(TokenSchema().dump))
