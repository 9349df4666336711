"""Staff sessions: who is signed in, for how long, and how recently they proved it."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, flash, g, redirect, session, url_for

from app.config import current_settings
from app.extensions import db
from app.staff.models import StaffUser

F = TypeVar("F", bound=Callable[..., Any])


def _now() -> int:
    return int(time.time())


def start_staff_session(user: StaffUser) -> None:
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    session.permanent = True
    now = _now()
    session["staff"] = {"id": user.id, "epoch": user.session_epoch, "since": now, "reauth": now}
    session["seen"] = now
    g.staff_user = user


def end_staff_session() -> None:
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    g.staff_user = None


def current_staff() -> StaffUser | None:
    """The signed-in staff member, or None. Checked once per request."""
    if "staff_user" in g:
        return g.staff_user
    data = session.get("staff")
    user = None
    if isinstance(data, dict):
        user = db.session.get(StaffUser, str(data.get("id")))
        limit = current_settings().staff_session_hours * 3600
        if (
            user is None
            or not user.active
            or user.session_epoch != data.get("epoch")
            or _now() - int(data.get("since", 0)) > limit
        ):
            timed_out = user is not None and user.active and user.session_epoch == data.get("epoch")
            end_staff_session()
            if timed_out:
                hours = current_settings().staff_session_hours
                flash(f"Your session reached its {hours}-hour limit. Please sign in again.", "info")
            user = None
    g.staff_user = user
    return user


def signed_in_staff() -> StaffUser:
    """The signed-in staff member, on a page the access gate (app.security) let through only
    for a role; should the gate ever be bypassed, nobody is served (403) rather than a crash."""
    user = current_staff()
    if user is None:
        abort(403)
    return user


def mark_reauthenticated() -> None:
    data = dict(session.get("staff") or {})
    data["reauth"] = _now()
    session["staff"] = data


def recently_authenticated() -> bool:
    data = session.get("staff") or {}
    window = current_settings().reauth_minutes * 60
    return _now() - int(data.get("reauth", 0)) <= window


def fresh_auth(back_to: str) -> Callable[[F], F]:
    """Require password and code again if the last proof is older than ``reauth_minutes``.

    ``back_to`` is the endpoint to return to afterwards (a page, since a POST cannot be
    replayed through a redirect)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not recently_authenticated():
                flash("For this, please confirm it is you.", "info")
                return redirect(url_for("staff.reauth", next=url_for(back_to)), 303)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
