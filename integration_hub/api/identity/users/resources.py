"""``/api/me`` and ``/api/users``: everyone reads principals, administrators change them."""

from flask import session as browser_cookie
from flask.views import MethodView

from integration_hub.api.auditing import audit_success, audited
from integration_hub.api.common import hal_page, href
from integration_hub.api.extensions import Blueprint
from integration_hub.api.identity.principal_deletion import (
    PrincipalDeleteArgsSchema,
    owned_integrations_linked,
    revoke_removed_tokens,
)
from integration_hub.api.identity.users.schemas import (
    MeSchema,
    UserPageSchema,
    UserQueryArgsSchema,
    UserSchema,
    UserUpdateSchema,
)
from integration_hub.db.session import db_session, transaction
from integration_hub.edge.conditional import check_if_match
from integration_hub.edge.security import current_user
from integration_hub.identity import deletion as principal_deletion
from integration_hub.identity import directory as identity

blp = Blueprint("users", __name__, url_prefix="/api", description="Users and the signed-in user")
ENTRY_POINTS = {"inf:me": "users.Me", "inf:users": "users.Users"}


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MeSchema)
    @blp.problems(401)
    def get(self):
        """The signed-in user, with teams"""
        return current_user()


@blp.route("/me/sessions")
class MySessions(MethodView):
    @blp.response(204)
    @blp.problems(401, 403)
    @audited("user.sign_out_everywhere", "user", lambda: current_user().username)
    def delete(self):
        """Sign out everywhere: end every browser session of yours (API tokens stay valid)"""
        actor = current_user()
        with transaction() as session:
            identity.end_sessions(session, actor, actor)
            audit_success(session)
        if browser_cookie:
            browser_cookie.clear()


@blp.route("/users")
class Users(MethodView):
    @blp.arguments(UserQueryArgsSchema, location="query")
    @blp.response(200, UserPageSchema)
    @blp.problems(401)
    def get(self, args):
        """List the users of your tenant"""
        users, total = identity.list_users(db_session(), current_user().tenant_id, args.get("q"),
                                           args["start"], args["limit"])
        return hal_page("users.Users", "inf:user", users, args["start"], args["limit"], total)

    @blp.arguments(UserSchema)
    @blp.response(201, UserSchema)
    @blp.problems(400, 401, 403, 409, 413, 415)
    @audited("user.create", "user")
    def post(self, values):
        """Create a user (administrators)"""
        actor = current_user()
        identity.require_superuser(actor)
        with transaction() as session:
            user = identity.create_user(session, actor.tenant_id, values)
            audit_success(session, user.username, fields=sorted(values))
        return user, 201, {"Location": href("users.User", username=user.username)}


@blp.route("/users/<username>")
class User(MethodView):
    @blp.response(200, UserSchema)
    @blp.problems(401, 404)
    def get(self, username):
        """One user"""
        return identity.get_user(db_session(), current_user().tenant_id, username)

    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    @blp.problems(400, 401, 403, 404, 409, 412, 413, 415)
    @audited("user.update", "user", "username")
    def put(self, changes, username):
        """Change a user; omitted fields keep their value (administrators)"""
        actor = current_user()
        with transaction() as session:
            user = identity.get_user(session, actor.tenant_id, username)
            identity.require_superuser(actor)
            check_if_match(UserSchema().dump(user))
            identity.update_user(session, actor, user, changes)
            audit_success(session, fields=sorted(changes))
        return user

    @blp.arguments(PrincipalDeleteArgsSchema, location="query")
    @blp.response(204)
    @blp.problems(401, 403, 404, 409, 412, 422)
    @audited("user.delete", "user", "username")
    def delete(self, args, username):
        """Delete a user with every grant they hold; what they own goes to ?successor=
        (administrators)"""
        actor = current_user()
        with owned_integrations_linked(), transaction() as session:
            user = identity.get_user(session, actor.tenant_id, username)
            identity.require_superuser(actor)
            check_if_match(UserSchema().dump(user))
            deletion = principal_deletion.delete_user(session, actor, user, args.get("successor"))
            audit_success(session, **deletion.detail)
        revoke_removed_tokens(deletion)


@blp.route("/users/<username>/sessions")
class UserSessions(MethodView):
    @blp.response(204)
    @blp.problems(401, 403, 404)
    @audited("user.sign_out_everywhere", "user", "username")
    def delete(self, username):
        """End every browser session of a user (administrators, or the user themself)"""
        actor = current_user()
        with transaction() as session:
            user = identity.get_user(session, actor.tenant_id, username)
            identity.end_sessions(session, actor, user)
            audit_success(session)
