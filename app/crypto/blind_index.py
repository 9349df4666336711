"""Keyed blind indexes: find a row by a secret value without storing the value."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from app.crypto.keyring import Keyring


def blind_index(ring: Keyring, purpose: str, value: str, *, version: str | None = None) -> bytes:
    """HMAC-SHA256 of ``value`` under a key derived for ``purpose`` alone.

    A different purpose gives an unrelated index for the same value, so an index
    leaked from one table cannot be matched against another. Made under root version
    ``version`` (None: the active one), which the row holding it names.
    """
    return blind_indexer(ring, purpose, version=version)(value)


def blind_indexer(ring: Keyring, purpose: str, *, version: str | None = None) -> Callable[[str], bytes]:
    """:func:`blind_index` for many values of one purpose, with the key derived once, from
    root version ``version`` (None: the active one)."""
    key = ring.derive(f"blind-index/{purpose}", version=version)
    return lambda value: hmac.new(key, value.encode(), hashlib.sha256).digest()
