"""Staff sessions: who is signed in, for how long, and how recently they proved it."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, flash, g, redirect, request, session, url_for

from app.config import current_settings
from app.extensions import db
from app.staff.models import StaffUser

F = TypeVar("F", bound=Callable[..., Any])


def _now() -> int:
    return int(time.time())


def start_staff_session(user: StaffUser, *, epoch: int) -> None:
    """Sign ``user`` in at ``epoch``: the session epoch their password was checked at. Should
    a reset or a new password have moved it since, this session is over at once."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    session.permanent = True
    now = _now()
    session["staff"] = {"id": user.id, "epoch": epoch, "since": now, "reauth": now}
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
    if user is not None:
        _drop_stale_kept_form()
    g.staff_user = user
    return user


def signed_in_staff() -> StaffUser:
    """The signed-in staff member, on a page the access gate (app.security) let through only
    for a role; should the gate ever be bypassed, nobody is served (403) rather than a crash."""
    user = current_staff()
    if user is None:
        abort(403)
    return user


def follow_epoch(epoch: int) -> None:
    """Keep this session after its owner's others were ended: ``epoch`` is the
    ``session_epoch`` the change set, in its own transaction. (Read again after the commit,
    it could be a later change's, such as a coordinator's reset, that this session must not
    outlive.)"""
    data = dict(session.get("staff") or {})
    data["epoch"] = epoch
    session["staff"] = data


def mark_reauthenticated() -> None:
    data = dict(session.get("staff") or {})
    data["reauth"] = _now()
    session["staff"] = data


def recently_authenticated() -> bool:
    data = session.get("staff") or {}
    window = current_settings().reauth_minutes * 60
    return _now() - int(data.get("reauth", 0)) <= window


# A form sent while its sender had to confirm who they are is kept this long for its page.
KEPT_FORM_SECONDS = 600
_KEPT_LENGTH = 300


def _keep_form(endpoint: str, keep: tuple[str, ...], arguments: dict[str, Any]) -> None:
    """Keep the fields named in ``keep`` of the form being sent, with the route's arguments
    (whose page it was). The session cookie is signed, not encrypted: only what the page
    names as harmless to read back is kept, and a kept form replaces any earlier one."""
    session.pop("kept_form", None)
    fields = {name: request.form[name][:_KEPT_LENGTH] for name in keep if name in request.form}
    if fields:
        args = {str(key): str(value) for key, value in arguments.items()}
        session["kept_form"] = {"for": endpoint, "args": args, "at": _now(), "fields": fields}


def _drop_stale_kept_form() -> None:
    kept = session.get("kept_form")
    if kept is not None and (not isinstance(kept, dict) or _now() - int(kept.get("at", 0)) > KEPT_FORM_SECONDS):
        session.pop("kept_form", None)


def kept_form(endpoint: str, **arguments: str) -> dict[str, str] | None:
    """What was typed into ``endpoint``'s form, sent with the route's ``arguments`` (the
    same person's page, say), before its sender was asked to confirm it is them (see
    :func:`fresh_auth`), once; None if nothing (recent) was kept for it."""
    _drop_stale_kept_form()
    kept = session.get("kept_form")
    if not isinstance(kept, dict) or kept.get("for") != endpoint:
        return None
    if kept.get("args") != {key: str(value) for key, value in arguments.items()}:
        return None
    session.pop("kept_form", None)
    fields = kept.get("fields")
    return {str(k): str(v) for k, v in fields.items()} if isinstance(fields, dict) else None


def fresh_auth(back_to: str, *, keep: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Require password and code again if the last proof is older than ``reauth_minutes``.

    ``back_to`` is the endpoint of the page to return to afterwards (a POST cannot be replayed
    through a redirect), given the view's own URL arguments. The form fields named in ``keep``
    are kept in the session meanwhile, for that page to fill in again (see :func:`kept_form`);
    the session cookie can be read by whoever holds it, so ``keep`` never names a secret
    (a password, a code, an address with a token in it). Nothing is kept by default."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not recently_authenticated():
                if request.method == "POST" and request.endpoint:
                    _keep_form(request.endpoint, keep, kwargs)
                flash("For this, please confirm it is you.", "info")
                own = {arg for rule in current_app.url_map.iter_rules(back_to) for arg in rule.arguments}
                page = url_for(back_to, **{k: v for k, v in kwargs.items() if k in own})
                return redirect(url_for("staff.reauth", next=page), 303)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
