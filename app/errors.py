"""Kind error pages: say what happened and what to do, never a stack trace.

Staff get theirs in the staff frame, in English, like every staff page: on a staff address
(app.i18n.STAFF_PATHS), or anywhere while signed in as staff. Reporters get theirs in the
reporter frame, in their language.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, g, render_template, request, session
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.forms import expired_recovery, failed_recovery
from app.i18n import is_staff_path
from app.intake.sessions import SESSION_KEY as REPORTER_SESSION

log = logging.getLogger("confide.errors")


# What staff are told, by status: plain English, in the staff frame.
STAFF_TEXT = {
    400: ("Something was wrong with that request", "Go back and try again."),
    403: ("Page not found", "There is nothing at this address, or it is not yours to open."),
    404: ("Page not found", "There is nothing at this address, or it is not yours to open."),
    405: ("Page not found", "There is nothing at this address, or it is not yours to open."),
    413: ("That was too long to send", "Nothing was saved. Go back, shorten it, and send it again."),
    429: (
        "Please wait a little",
        "There have been many attempts from this connection. Wait a few minutes and try again.",
    ),
    500: (
        "Something went wrong on our side",
        "What you were doing may not have been saved. Go back, reload the page and try again in a "
        "few minutes. If it keeps happening, tell the person who runs Confide.",
    ),
}
EXPIRED_STAFF_TEXT = (
    "This page expired",
    "For your safety, pages expire after a while. Go back, reload the page and try again.",
)


def _for_staff() -> bool:
    # The session alone, not the database: this may be answering a database that failed.
    return is_staff_path(request.path) or (session.get("staff") is not None and REPORTER_SESSION not in session)


def _page(status: int, title: str, text: str, staff: tuple[str, str] | None = None) -> tuple[str, int]:
    if _for_staff():
        staff_title, staff_text = staff or STAFF_TEXT[status]
        with force_locale("en"):
            return render_template("errors/staff_error.html", title=staff_title, text=staff_text), status
    return render_template("errors/error.html", title=title, text=text), status


def init_errors(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def form_expired(error: CSRFError) -> tuple[str, int]:
        # Views with a form re-render it with everything typed (app.forms.on_expired).
        handler = expired_recovery(request.endpoint)
        if handler is not None:
            return handler()
        return _page(
            400,
            _("This page expired"),
            _("For your safety, pages expire after a while. Go back, reload the page and try again."),
            staff=EXPIRED_STAFF_TEXT,
        )

    @app.errorhandler(413)
    def too_large(error: HTTPException) -> tuple[str, int]:
        return _page(
            413,
            _("That was too long to send"),
            _(
                "Nothing was saved. Go back with your browser's back button: what you wrote is "
                "usually still there. Shorten it, or send the rest later as a message with your receipt."
            ),
        )

    @app.errorhandler(429)
    def too_many(error: HTTPException) -> Response | tuple[str, int]:
        if error.response is not None:
            # A view's own answer, e.g. the report form with everything typed kept.
            return error.response  # type: ignore[return-value]
        return _page(
            429,
            _("Please wait a little"),
            _(
                "There have been many attempts from this connection. Please wait a few minutes "
                "and try again. If you are in danger now, call 911."
            ),
        )

    @app.errorhandler(404)
    def not_found(error: HTTPException) -> tuple[str, int]:
        return _page(404, _("Page not found"), _("There is nothing at this address."))

    @app.errorhandler(403)
    def forbidden(error: HTTPException) -> tuple[str, int]:
        # As the gate answers a page someone may not open: there is nothing here for them.
        return _page(403, _("Page not found"), _("There is nothing at this address."))

    @app.errorhandler(405)
    def wrong_method(error: HTTPException) -> tuple[str, int]:
        return _page(405, _("Page not found"), _("There is nothing at this address."))

    @app.errorhandler(400)
    def bad_request(error: HTTPException) -> tuple[str, int]:
        return _page(400, _("Something was wrong with that request"), _("Go back and try again."))

    @app.errorhandler(500)
    def server_error(error: Exception) -> tuple[str, int]:
        # A form that failed to be saved is given back with everything typed, if its view
        # knows how (the report form does); if even that fails, the plain page below.
        handler = failed_recovery(request.endpoint)
        if handler is not None and request.method == "POST":
            try:
                return handler()
            except Exception:  # noqa: BLE001 - the plain page is the fallback
                log.exception("could not give the form back after an error")
        # The database may be what failed: the staff frame is drawn without asking it again
        # who is signed in (a second failure here would leave the bare server page).
        g.setdefault("staff_user", None)
        return _page(
            500,
            _("Something went wrong on our side"),
            _(
                "If you go back with your browser's back button, what you wrote is usually still "
                "there. Please try again in a few minutes. If you are in danger now, call 911."
            ),
        )
