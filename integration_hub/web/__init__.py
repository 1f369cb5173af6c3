"""Server-rendered pages for people: sign in, the start page, relation docs."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)

from integration_hub import errors
from integration_hub.config import current_settings
from integration_hub.db.session import db_session
from integration_hub.edge.page_headers import secure_pages
from integration_hub.edge.security import check_csrf, csrf_token, sign_in, sign_out
from integration_hub.identity import login_throttle
from integration_hub.web.connect import bp as connect_pages
from integration_hub.web.redirects import local_target

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")

def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(connect_pages)
    app.after_request(secure_pages)


# The hub's own icon: browsers ask every site for /favicon.ico. It is an SVG (browsers
# read the type from the answer), inert like any icon the hub serves.
ICON_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                "X-Content-Type-Options": "nosniff"}


@bp.get("/favicon.ico")
def favicon():
    response = send_from_directory(bp.static_folder, "hub.svg", mimetype="image/svg+xml",
                                   max_age=86400)
    response.headers.update(ICON_HEADERS)
    return response


def _after_sign_in() -> str:
    """The ``next`` page when it is the hub's own, else the start page (no open redirect)."""
    return local_target(request.args.get("next")) or url_for("connect_pages.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    status = 200
    if request.method == "POST":
        try:
            check_csrf()
            settings = current_settings()
            user = login_throttle.check_password(
                db_session(), settings, request.form.get("tenant") or settings.default_tenant,
                request.form.get("username", ""), request.form.get("password", ""),
                request.remote_addr)
        except errors.CsrfFailed:
            error, status = "Your sign-in form expired. Please try again.", 403
        except errors.InvalidCredentials:
            error, status = "Unknown username or wrong password.", 401
        except errors.ValidationFailed as invalid:  # fields longer than any the hub holds
            names = sorted(invalid.errors)
            error = f"The {' and '.join(names)} you typed {'are' if len(names) > 1 else 'is'} too long."
            status = 422
        except login_throttle.SignInThrottled as throttled:
            error, status = f"Too many failed sign-ins. {throttled.detail.capitalize()}.", 429
        else:
            sign_in(user)
            return redirect(_after_sign_in(), code=303)
    return render_template("login.html", error=error, csrf_token=csrf_token(),
                           next=request.args.get("next", "")), status


@bp.post("/logout")
def logout():
    check_csrf()
    sign_out()
    return redirect(url_for("web.login"), code=303)
