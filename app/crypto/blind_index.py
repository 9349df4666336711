"""Keyed blind indexes: find a row by a secret value without storing the value."""

from __future__ import annotations

import hashlib
import hmac

from app.crypto.keyring import Keyring


def blind_index(ring: Keyring, purpose: str, value: str) -> bytes:
    """HMAC-SHA256 of ``value`` under a key derived for ``purpose`` alone.

    A different purpose gives an unrelated index for the same value, so an index
    leaked from one table cannot be matched against another.
    """
    key = ring.derive(f"blind-index/{purpose}")
    return hmac.new(key, value.encode(), hashlib.sha256).digest()
