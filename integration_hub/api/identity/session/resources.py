"""``/api/login`` and ``/api/logout``: browser sessions backed by a cookie."""

import marshmallow as ma
from flask import request
from flask.views import MethodView

from integration_hub.api.extensions import Blueprint
from integration_hub.api.identity.users.schemas import MeSchema
from integration_hub.config import current_settings
from integration_hub.db.session import db_session
from integration_hub.edge.security import check_csrf, public, session_user, sign_in, sign_out
from integration_hub.identity import login_throttle

blp = Blueprint("session", __name__, url_prefix="/api", description="Browser sessions")


LIMITS = login_throttle.FIELD_LIMITS


class LoginSchema(ma.Schema):
    username = ma.fields.String(required=True,
                                validate=ma.validate.Length(min=1, max=LIMITS["username"]))
    password = ma.fields.String(required=True, load_only=True,
                                validate=ma.validate.Length(min=1, max=LIMITS["password"]))
    tenant = ma.fields.String(validate=ma.validate.Length(max=LIMITS["tenant"]),
                              metadata={"description": "Tenant id; defaults to the hub's default"})


class SignedInSchema(MeSchema):
    csrf_token = ma.fields.String(data_key="csrfToken", dump_only=True, metadata={
        "description": "Send as X-CSRF-Token on cookie-authenticated writes"})


@public
@blp.route("/login")
class Login(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(200, SignedInSchema)
    @blp.problems(400, 401, 413, 415, 429)
    def post(self, credentials):
        """Sign in with username and password; sets the session cookie. Repeated failures
        for a user or from an address answer 429 for a while"""
        settings = current_settings()
        tenant_id = credentials.get("tenant") or settings.default_tenant
        user = login_throttle.check_password(db_session(), settings, tenant_id,
                                             credentials["username"], credentials["password"],
                                             request.remote_addr)
        user.csrf_token = sign_in(user)
        return user, 200, {"Cache-Control": "no-store"}


@public
@blp.route("/logout")
class Logout(MethodView):
    @blp.response(204)
    @blp.problems(403)
    def post(self):
        """End the browser session (needs the CSRF token when signed in)"""
        if session_user() is not None:
            check_csrf()
        sign_out()
