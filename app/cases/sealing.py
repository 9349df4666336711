"""Sealing and opening a case's fields with its own data key."""

from __future__ import annotations

import json
from typing import Any

from app.cases.models import Case
from app.crypto import Keyring, WrappedKey, new_dek, open_field, seal_field, unwrap_dek, wrap_dek


def case_owner(case_id: str) -> str:
    return f"case:{case_id}"


def new_case_key(ring: Keyring, case: Case) -> bytes:
    """Give ``case`` a fresh data key, stored wrapped; returns the key for this request."""
    dek = new_dek()
    wrapped = wrap_dek(ring, dek, owner=case_owner(case.id))
    case.dek_scheme, case.dek_key_id, case.dek_wrapped = wrapped.scheme, wrapped.key_id, wrapped.blob
    return dek


def case_key(ring: Keyring, case: Case) -> bytes:
    return unwrap_dek(
        ring,
        WrappedKey(scheme=case.dek_scheme, key_id=case.dek_key_id, blob=case.dek_wrapped),
        owner=case_owner(case.id),
    )


def rewrap_case_key(ring: Keyring, case: Case) -> None:
    """Wrap the case's existing data key under the active KEK. Content is untouched."""
    dek = case_key(ring, case)
    wrapped = wrap_dek(ring, dek, owner=case_owner(case.id))
    case.dek_scheme, case.dek_key_id, case.dek_wrapped = wrapped.scheme, wrapped.key_id, wrapped.blob


def seal_json(dek: bytes, value: Any, *, record: str, record_id: str, field: str) -> bytes:
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return seal_field(dek, data, record=record, record_id=record_id, field=field)


def open_json(dek: bytes, sealed: bytes, *, record: str, record_id: str, field: str) -> Any:
    return json.loads(open_field(dek, sealed, record=record, record_id=record_id, field=field))
