"""Development-only stand-ins so the demo works offline: a tiny OAuth2 provider,
an echo upstream and a paged product listing to sync. Never registered when
HUB_ENV=production.

The provider is stateless: codes and tokens are signed with the hub's secret
key and carry their own expiry, so every worker can check them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from flask import Blueprint, Flask, abort, current_app, jsonify, redirect, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from integration_hub.dev.demo_client import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from integration_hub.edge.security import session_user
from integration_hub.oauth.rules import with_result

bp = Blueprint("devtools", __name__, url_prefix="/dev", template_folder="../web/templates")
CODE_LIFETIME, ACCESS_LIFETIME = 300, 3600


def init_app(app: Flask) -> None:
    if not app.config["HUB_SETTINGS"].production:
        app.register_blueprint(bp)


def _signer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"dev-oauth-{purpose}")


def _load(purpose: str, value: str, max_age: int) -> dict:
    try:
        return _signer(purpose).loads(value, max_age=max_age)
    except BadSignature:
        return {}


def _oauth_error(error: str, status: int = 400):
    return jsonify({"error": error}), status


@bp.route("/oauth/authorize", methods=["GET", "POST"])
def authorize():
    """A consent page: Allow sends a code back, Deny sends access_denied."""
    params = request.values
    redirect_uri, state = params.get("redirect_uri", ""), params.get("state", "")
    if params.get("client_id") != DEMO_CLIENT_ID or not redirect_uri.startswith(("http://", "https://")):
        abort(400, "unknown client or redirect_uri")
    user = session_user()
    account = {"sub": f"dev-{user.username}" if user else "dev-guest",
               "email": (user.email if user and user.email else "guest@example.com"),
               "name": (user.display_name if user else "Guest")}
    if request.method == "GET":
        return render_template("dev_authorize.html", params=params, account=account)
    if request.form.get("decision") != "allow":
        return redirect(with_result(redirect_uri, error="access_denied", state=state), 303)
    code = _signer("code").dumps({"redirect_uri": redirect_uri, "account": account,
                                  "challenge": params.get("code_challenge"),
                                  "scope": params.get("scope", ""), "n": secrets.token_hex(4)})
    return redirect(with_result(redirect_uri, code=code, state=state), 303)


def _client_ok() -> bool:
    if request.authorization and request.authorization.type == "basic":
        client_id, secret = request.authorization.username, request.authorization.password
    else:
        client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
    return client_id == DEMO_CLIENT_ID and hmac.compare_digest(secret or "", DEMO_CLIENT_SECRET)


def _tokens(account: dict, scope: str) -> dict:
    grant = {"account": account, "scope": scope, "n": secrets.token_hex(4)}
    return {"access_token": _signer("access").dumps(grant), "token_type": "Bearer",
            "expires_in": ACCESS_LIFETIME, "scope": scope,
            "refresh_token": _signer("refresh").dumps(grant)}


@bp.post("/oauth/token")
def token():
    if not _client_ok():
        return _oauth_error("invalid_client", 401)
    grant_type = request.form.get("grant_type")
    if grant_type == "authorization_code":
        code = _load("code", request.form.get("code", ""), CODE_LIFETIME)
        verifier = request.form.get("code_verifier")
        if not code or code["redirect_uri"] != request.form.get("redirect_uri"):
            return _oauth_error("invalid_grant")
        if code["challenge"]:
            expected = base64.urlsafe_b64encode(
                hashlib.sha256((verifier or "").encode()).digest()).rstrip(b"=").decode()
            if not hmac.compare_digest(expected, code["challenge"]):
                return _oauth_error("invalid_grant")
        return jsonify(_tokens(code["account"], code["scope"]))
    if grant_type == "refresh_token":
        grant = _load("refresh", request.form.get("refresh_token", ""), 30 * 86400)
        if not grant:
            return _oauth_error("invalid_grant")
        return jsonify(_tokens(grant["account"], grant["scope"]))
    return _oauth_error("unsupported_grant_type")


@bp.get("/oauth/userinfo")
def userinfo():
    scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
    grant = _load("access", value, ACCESS_LIFETIME) if scheme.lower() == "bearer" else {}
    if not grant:
        return _oauth_error("invalid_token", 401)
    return jsonify(grant["account"])


@bp.post("/oauth/revoke")
def revoke():
    return "", 200


@bp.route("/echo/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/echo/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def echo(path: str):
    """An upstream that answers with what it received (cookies left out)."""
    body = request.get_data(as_text=True)
    return jsonify({"method": request.method, "path": "/" + path,
                    "query": request.args.to_dict(flat=False),
                    "headers": {k: _masked(k, v) for k, v in request.headers.items()
                                if k.lower() != "cookie"},
                    "body": body, "receivedAt": int(time.time())})


DEMO_PRODUCTS = tuple({"id": f"p-{n:03d}", "name": name, "price": price, "stock": stock}
                      for n, (name, price, stock) in enumerate((
                          ("Desk lamp", 39.5, 12), ("Office chair", 249.0, 3),
                          ("Notebook", 4.25, 140), ("Monitor arm", 89.9, 7),
                          ("Headset", 59.0, 25), ("Cable tray", 19.99, 40),
                          ("Whiteboard", 120.0, 2)), start=1))
PRODUCTS_PAGE = 3


@bp.route("/catalog/products")
def products():
    """A paged listing (cursor style) for trying syncs: three products a page."""
    cursor = request.args.get("cursor", "0")
    start = int(cursor) if cursor.isdigit() else 0
    following = start + PRODUCTS_PAGE
    return jsonify({"items": DEMO_PRODUCTS[start:following],
                    "nextCursor": str(following) if following < len(DEMO_PRODUCTS) else None})


def _masked(name: str, value: str) -> str:
    """Credentials arrive here too; show that they did, not what they are."""
    lowered = name.lower()
    if any(word in lowered for word in ("authorization", "key", "token", "secret")):
        return value.split(" ", 1)[0] + " ***" if " " in value else "***"
    return value
