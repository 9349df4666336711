"""Envelope encryption: a random data key per case, wrapped by a KEK from the keyring.

Every sealed value is AES-256-GCM under the case's data key, with associated data that
names its place (record type, record id, field). A ciphertext copied into another row or
field therefore fails to open instead of being shown in the wrong place.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.crypto.keyring import KEY_BYTES, Keyring

# Wrapping scheme for data keys: AES-256-GCM under a KEK, bound to the owning record.
SCHEME_KEK_AESGCM = "kek-aes256gcm/1"
FIELD_VERSION = b"\x01"
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A value could not be opened: wrong key, wrong place, or altered bytes."""


@dataclass(frozen=True)
class WrappedKey:
    scheme: str
    key_id: str
    blob: bytes


def _associated_data(*parts: str) -> bytes:
    # Length-prefixed parts, so ("ab", "c") and ("a", "bc") can never collide.
    out = bytearray(b"confide")
    for part in parts:
        encoded = part.encode()
        out += struct.pack(">I", len(encoded)) + encoded
    return bytes(out)


def new_dek() -> bytes:
    """A fresh random 256-bit data key."""
    return os.urandom(KEY_BYTES)


def wrap_dek(ring: Keyring, dek: bytes, *, owner: str) -> WrappedKey:
    """Wrap a data key under the active KEK, bound to its owner (e.g. ``case:<id>``)."""
    nonce = os.urandom(NONCE_BYTES)
    blob = nonce + AESGCM(ring.kek(ring.active_kek_id)).encrypt(
        nonce, dek, _associated_data("dek", SCHEME_KEK_AESGCM, ring.active_kek_id, owner)
    )
    return WrappedKey(scheme=SCHEME_KEK_AESGCM, key_id=ring.active_kek_id, blob=blob)


def unwrap_dek(ring: Keyring, wrapped: WrappedKey, *, owner: str) -> bytes:
    """Recover a data key. Raises DecryptionError if it does not belong to ``owner``."""
    if wrapped.scheme != SCHEME_KEK_AESGCM:
        raise DecryptionError(f"unknown key-wrapping scheme {wrapped.scheme!r}")
    nonce, body = wrapped.blob[:NONCE_BYTES], wrapped.blob[NONCE_BYTES:]
    try:
        return AESGCM(ring.kek(wrapped.key_id)).decrypt(
            nonce, body, _associated_data("dek", wrapped.scheme, wrapped.key_id, owner)
        )
    except InvalidTag:
        raise DecryptionError("data key does not open for this record") from None


def seal_field(dek: bytes, plaintext: bytes, *, record: str, record_id: str, field: str) -> bytes:
    """Encrypt one value for one place: ``record``/``record_id``/``field``."""
    nonce = os.urandom(NONCE_BYTES)
    return FIELD_VERSION + nonce + AESGCM(dek).encrypt(nonce, plaintext, _associated_data(record, record_id, field))


def open_field(dek: bytes, sealed: bytes, *, record: str, record_id: str, field: str) -> bytes:
    """Decrypt a value sealed by :func:`seal_field` for exactly the same place."""
    if sealed[:1] != FIELD_VERSION or len(sealed) < 1 + NONCE_BYTES + 16:
        raise DecryptionError("not a sealed value")
    nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    try:
        return AESGCM(dek).decrypt(nonce, body, _associated_data(record, record_id, field))
    except InvalidTag:
        raise DecryptionError(f"{record}.{field} does not open here") from None
