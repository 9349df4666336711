"""Submission tokens: one per filling-in of the report form, good only in the browser given it.

A token is a random nonce and a MAC of it under a key of this browser's session. A resent form
(a double tap, Back and send) files nothing twice, and is told so. A token from anywhere else
(planted by someone's page, seen over a shoulder, copied from a shared computer) is worth
nothing: the report that carries it is filed as a new one, and no one can use a token to learn
whether, or stop, a report being filed from another browser.
"""

from __future__ import annotations

import base64
import secrets

from flask import session

from app.access import constant_time_equal
from app.crypto.blind_index import blind_index
from app.keystore import current_keyring

SESSION_KEY = "form_key"  # the session's own random key; the MAC also needs the root secret


def new_submission_token() -> str:
    """A fresh token for this browser's session (which it starts if there is none yet)."""
    if SESSION_KEY not in session:
        session[SESSION_KEY] = secrets.token_urlsafe(18)
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{_mac(session[SESSION_KEY], nonce)}"


def own_submission_token(posted: str | None) -> str | None:
    """``posted`` if this session was given it, otherwise None."""
    nonce, _, mac = (posted or "").partition(".")
    key = session.get(SESSION_KEY)
    if not nonce or not mac or not isinstance(key, str):
        return None
    return posted if constant_time_equal(mac, _mac(key, nonce)) else None


def _mac(key: str, nonce: str) -> str:
    digest = blind_index(current_keyring(), "submission-token", f"{key}\x00{nonce}")
    return base64.urlsafe_b64encode(digest[:18]).decode()
