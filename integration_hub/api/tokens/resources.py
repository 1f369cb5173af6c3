"""``/api/tokens``: the caller's hub API tokens."""

from flask.views import MethodView

from integration_hub.api.auditing import audit_success, audited
from integration_hub.api.common import PageArgsSchema, hal_page, href
from integration_hub.api.tokens.schemas import IssuedTokenSchema, TokenPageSchema, TokenSchema
from integration_hub.conditional import check_if_match
from integration_hub.db.session import db_session, transaction
from integration_hub.extensions import Blueprint
from integration_hub.hal_forms import template
from integration_hub.security import current_user
from integration_hub.services import tokens

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
    @blp.problems(400, 401, 413, 415)
    @audited("token.create", "token")
    def post(self, values):
        """Create a token; the answer is the only time it is shown"""
        with transaction() as session:
            issued = tokens.issue_token(session, current_user(), values.get("name", ""),
                                        values.get("expires_at"))
            audit_success(session, issued.record.id, name=issued.record.name,
                          prefix=issued.record.prefix)
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
    @audited("token.delete", "token", "token_id")
    def delete(self, token_id):
        """Revoke a token"""
        with transaction() as session:
            check_if_match(TokenSchema().dump(tokens.get_token(session, current_user(), token_id)))
            tokens.revoke_token(session, current_user(), token_id)
            audit_success(session)
