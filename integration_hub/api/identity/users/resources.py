"""``/api/me`` and ``/api/users``: everyone reads principals, administrators change them."""

from flask import session as browser_cookie
from flask.views import MethodView

from integration_hub.api.common import hal_page, href
from integration_hub.api.extensions import Blueprint
from integration_hub.api.identity.principal_deletion import (
    PrincipalDeleteArgsSchema,
    owned_integrations_linked,
)
from integration_hub.api.identity.users.schemas import (
    MeSchema,
    UserPageSchema,
    UserQueryArgsSchema,
    UserSchema,
    UserUpdateSchema,
)
from integration_hub.db.session import db_session
from integration_hub.edge.conditional import if_match
from integration_hub.edge.security import current_actor, current_user
from integration_hub.identity import directory as identity
from integration_hub.identity import users

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
    def delete(self):
        """Sign out everywhere: end every browser session of yours (API tokens stay valid)"""
        users.end_own_sessions(current_actor())
        if browser_cookie:  # this browser's session ended with the others
            browser_cookie.clear()


@blp.route("/users")
class Users(MethodView):
    @blp.arguments(UserQueryArgsSchema, location="query")
    @blp.response(200, UserPageSchema)
    @blp.problems(401)
    def get(self, args):
        """List the users of your tenant"""
        found, total = identity.list_users(db_session(), current_user().tenant_id, args.get("q"),
                                           args["start"], args["limit"])
        return hal_page("users.Users", "inf:user", found, args["start"], args["limit"], total)

    @blp.arguments(UserSchema)
    @blp.response(201, UserSchema)
    @blp.problems(400, 401, 403, 409, 413, 415)
    def post(self, values):
        """Create a user (administrators)"""
        user = users.create(current_actor(), values)
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
    def put(self, changes, username):
        """Change a user; omitted fields keep their value (administrators)"""
        return users.update(current_actor(), username, changes, if_match(UserSchema().dump))

    @blp.arguments(PrincipalDeleteArgsSchema, location="query")
    @blp.response(204)
    @blp.problems(401, 403, 404, 409, 412, 422)
    def delete(self, args, username):
        """Delete a user with every grant they hold; what they own goes to ?successor=
        (administrators)"""
        with owned_integrations_linked():
            users.delete(current_actor(), username, args.get("successor"),
                         if_match(UserSchema().dump))


@blp.route("/users/<username>/sessions")
class UserSessions(MethodView):
    @blp.response(204)
    @blp.problems(401, 403, 404)
    def delete(self, username):
        """End every browser session of a user (administrators, or the user themself)"""
        users.end_sessions(current_actor(), username)
