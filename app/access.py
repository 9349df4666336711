"""Who may use what, known everywhere: the roles, the :func:`allow` mark every view carries,
and the small secrets helpers the access checks share (constant-time comparison, the hashed
client key of rate limits).

The gate that enforces the marks is :mod:`app.security` (web layer); this module is core, so
any feature's views can mark themselves without depending on the gate.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from flask import Flask, request

from app.keystore import current_keyring

F = TypeVar("F", bound=Callable[..., object])

PUBLIC = "public"
REPORTER = "reporter"
RESPONDER = "responder"
COORDINATOR = "coordinator"
COUNSEL = "counsel"
STAFF = (RESPONDER, COORDINATOR, COUNSEL)
ALL_ROLES = (PUBLIC, REPORTER, *STAFF)
ACCESS_ATTRIBUTE = "_confide_access"


def allow(*roles: str) -> Callable[[F], F]:
    """Open a view to ``roles``; without this decorator a view is closed to everyone."""

    def decorate(view: F) -> F:
        setattr(view, ACCESS_ATTRIBUTE, frozenset(roles))
        return view

    return decorate


def view_roles(app: Flask, endpoint: str) -> frozenset[str]:
    if endpoint == "static":
        return frozenset({PUBLIC})
    view = app.view_functions.get(endpoint)
    return getattr(view, ACCESS_ATTRIBUTE, frozenset())


def hashed_client_key() -> str:
    """A rate-limit key for this client that is not its address.

    The address is HMAC'd under a key derived from the keyring for today only, so the
    counters in Redis cannot be turned back into addresses, nor linked across days.
    """
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    key = current_keyring().derive(f"rate-limit/{day}")
    address = request.remote_addr or ""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        parsed = None
    if parsed is not None and parsed.version == 6 and parsed.ipv4_mapped is None:
        # One household or phone gets a whole /64 of IPv6 addresses: it counts as one.
        address = str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()[:32]


def constant_time_equal(a: str | bytes, b: str | bytes) -> bool:
    left = a.encode() if isinstance(a, str) else a
    right = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(left, right)
