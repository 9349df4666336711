"""Reporter sessions: a receipt opens one, "Sign out" and "Leave quickly" end it everywhere.

The browser's cookie holds only a random token, and is a session cookie (gone when the
browser closes); the server keeps a keyed index of the token beside the case it opens
(``intake.models.ReporterSession``). A copied cookie is worth nothing once the reporter
signs out, leaves quickly, or stays away longer than ``session_idle_minutes``.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timedelta

from flask import g, session
from sqlalchemy import delete, or_, update

from app.cases.models import Case
from app.config import current_settings
from app.crypto import blind_index
from app.extensions import db
from app.intake.models import ReporterSession
from app.keystore import current_keyring
from app.models import delete_where, utcnow

SESSION_KEY = "reporter"
PURPOSE = "reporter-session"


def _index(token: str, version: str | None = None) -> bytes:
    return blind_index(current_keyring(), PURPOSE, token, version=version)


def _indexes(token: str) -> list[bytes]:
    """The token's index under each root version in the keyring, the active one first: a
    session begun before `flask keys rotate-root` goes on until it ends or the old version
    retires (it lives 30 idle minutes, so it needs no version of its own)."""
    return [_index(token, version) for version in current_keyring().root_versions()]


def _session_row(token: str) -> ReporterSession | None:
    for index in _indexes(token):
        row = db.session.get(ReporterSession, index)
        if row is not None:
            return row
    return None


def _minute() -> datetime:
    return utcnow().replace(second=0, microsecond=0)


def start_reporter_session(case_id: str) -> None:
    """Sign this browser in to ``case_id``: a fresh session, the same language."""
    end_reporter_session()
    token = secrets.token_urlsafe(32)
    db.session.add(ReporterSession(token_index=_index(token), case_id=case_id, seen_at=_minute()))
    # From now on she has her receipt: a resent form is no longer shown it (intake.services).
    db.session.execute(
        update(Case).where(Case.id == case_id, Case.receipt_used_at.is_(None)).values(receipt_used_at=_minute())
    )
    note_reporter_activity(case_id)
    db.session.commit()
    session.permanent = False
    session[SESSION_KEY] = token
    session["seen"] = int(time.time())  # the idle clock (app.security)
    g.reporter_case_id = case_id


def note_reporter_activity(case_id: str) -> None:
    """She came back (signed in, or wrote): her case is kept a while longer under the retention
    policy (app/retention/policy.py). Kept to the day; not committed."""
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    db.session.execute(
        update(Case)
        .where(Case.id == case_id, or_(Case.reporter_seen_on.is_(None), Case.reporter_seen_on < today))
        # Not a change to the case: its time of last change stays as it was.
        .values(reporter_seen_on=today, updated_at=Case.updated_at)
    )


def reporter_case_id() -> str | None:
    """The case this browser is signed in to, checked on the server once a request."""
    if "reporter_case_id" in g:
        return g.reporter_case_id
    token = session.get(SESSION_KEY)
    case_id = None
    if isinstance(token, str):
        row = _session_row(token)
        idle = timedelta(minutes=current_settings().session_idle_minutes)
        if row is not None and utcnow() - row.seen_at <= idle + timedelta(minutes=1):
            case_id = row.case_id
            if row.seen_at != _minute():
                row.seen_at = _minute()
                db.session.commit()
        elif row is not None:
            db.session.delete(row)
            db.session.commit()
    g.reporter_case_id = case_id
    return case_id


def end_reporter_session() -> None:
    """Sign this browser out: its server record goes, and everything but the language."""
    token = session.get(SESSION_KEY)
    if isinstance(token, str):
        db.session.execute(delete(ReporterSession).where(ReporterSession.token_index.in_(_indexes(token))))
        db.session.commit()
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    g.reporter_case_id = None


def forget_idle_reporter_sessions() -> int:
    """Delete the records of sessions idle past the limit (the periodic pass); returns how many."""
    idle = timedelta(minutes=current_settings().session_idle_minutes + 1)
    gone = delete_where(ReporterSession, ReporterSession.seen_at < utcnow() - idle)
    db.session.commit()
    return gone
