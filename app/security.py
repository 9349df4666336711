"""The gate: deny-by-default access, idle sessions, security headers.

Every view states who may use it with :func:`app.access.allow`. A request for a view that
states nothing is answered 404, so a route added without thought is closed, not open.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, Response, abort, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import validate_csrf
from werkzeug.wrappers import Response as BaseResponse
from wtforms.validators import ValidationError

from app.access import PUBLIC, REPORTER, STAFF, view_roles
from app.config import current_settings
from app.forms import signed_out_recovery

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

# The pages of charts (app/insights) show them as data: images, in which no browser runs scripts.
CSP_WITH_CHARTS = CSP.replace("img-src 'self'", "img-src 'self' data:")
CHART_PAGES = frozenset({"insights.dashboard"})


def current_roles() -> set[str]:
    from app.intake.sessions import reporter_case_id
    from app.staff.sessions import current_staff

    roles = {PUBLIC}
    if reporter_case_id() is not None:
        roles.add(REPORTER)
    elif session.get("staff") is not None:
        staff = current_staff()
        if staff is not None:
            roles.add(staff.role)
    return roles


def _now_ts() -> int:
    return int(datetime.now(UTC).timestamp())


def _expire_idle_session() -> None:
    # A stylesheet or an icon is no activity, and must not write the session: its answer,
    # arriving after the page's, would put back the cookie the page had just replaced (a
    # sign-in's), signing her out with a form token that no longer matches.
    if request.endpoint == "static":
        return
    seen = session.get("seen")
    if seen is None:
        return
    idle_seconds = current_settings().session_idle_minutes * 60
    if _now_ts() - int(seen) > idle_seconds:
        from app.intake.sessions import SESSION_KEY, end_reporter_session

        signed_in = SESSION_KEY in session or "staff" in session
        end_reporter_session()
        if signed_in:
            flash(_("For your safety you were signed out after a while without activity."), "info")
    else:
        session["seen"] = _now_ts()


def _own_post(endpoint: str | None) -> bool:
    """A post to a form kept when its sender was signed out, carrying this browser's session's
    form token: sent from one of our pages, not made by another site (app.intake.resume).
    Asked before an idle session ends, which takes the token with it."""
    if request.method != "POST" or signed_out_recovery(endpoint) is None:
        return False
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return False
    return True


def _check_access() -> BaseResponse | None:
    own_post = _own_post(request.endpoint)
    _expire_idle_session()
    endpoint = request.endpoint
    if endpoint is None:
        return None  # unmatched URL: Flask answers 404 itself
    allowed = view_roles(current_app, endpoint)
    if allowed & current_roles():
        if any("\x00" in str(value) for value in (request.view_args or {}).values()):
            abort(404)  # no id holds a NUL, and PostgreSQL refuses to be asked about one
        return None
    if REPORTER in allowed:
        # A reporter whose session ended is asked for her receipt again; what she was sending
        # comes with her, never lost (app.forms.on_signed_out).
        recovery = signed_out_recovery(endpoint) if own_post else None
        return recovery() if recovery is not None else redirect(url_for("intake.status"), 303)
    if allowed & set(STAFF) and session.get("staff") is None:
        return redirect(url_for("staff.login", next=request.full_path.rstrip("?")), 303)
    _audit_refusal()
    abort(404)


def _audit_refusal() -> None:
    from app.signals import announce
    from app.staff.sessions import current_staff

    staff = current_staff() if session.get("staff") is not None else None
    if staff is not None:
        case_id = (request.view_args or {}).get("case_id")
        announce(
            "access_denied",
            actor=staff.id,
            role=staff.role,
            case_id=str(case_id)[:36] if case_id else None,
            endpoint=request.endpoint,
        )


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers["Content-Security-Policy"] = CSP_WITH_CHARTS if request.endpoint in CHART_PAGES else CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    if request.endpoint != "static":
        # Nothing a reporter or responder sees may linger in a shared browser's cache.
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    if current_settings().secure_cookies:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return response


def init_security(app: Flask) -> None:
    app.before_request(_check_access)
    app.after_request(_security_headers)
