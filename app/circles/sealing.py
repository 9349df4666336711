"""Sealing a circle's place and link, and the name and email of those who ask for them.

Sealed like a coordinator's paging address: under a key derived from the keyring for this
purpose alone, each value bound to its row and field, so a copy of the database holds none of
them, and a sealed value moved to another row does not open. Deleting the value (an email once
the meeting is over, a request once it is purged) leaves nothing behind."""

from __future__ import annotations

import json
from dataclasses import dataclass

from app.crypto import Keyring, open_field, seal_field
from app.keystore import current_keyring


@dataclass(frozen=True)
class Where:
    """Where a circle meets: the address and directions, and the link to an online meeting."""

    place: str
    link: str


def _key(ring: Keyring, version: str | None = None) -> bytes:
    return ring.derive("circles/seal", version=version)


def active_root() -> str:
    """The root version values sealed now are sealed under: each row names it (``seal_root``)."""
    return current_keyring().active_root_id


def seal_text(value: str, *, record: str, record_id: str, field: str) -> bytes:
    return seal_field(_key(current_keyring()), value.encode(), record=record, record_id=record_id, field=field)


def open_text(sealed: bytes, *, record: str, record_id: str, field: str, version: str | None = None) -> str:
    """A value sealed under root version ``version`` (None: the active one)."""
    key = _key(current_keyring(), version)
    return open_field(key, sealed, record=record, record_id=record_id, field=field).decode()


def seal_where(circle_id: str, where: Where) -> bytes:
    data = json.dumps({"place": where.place, "link": where.link}, ensure_ascii=False)
    return seal_text(data, record="circle", record_id=circle_id, field="where")


def open_where(circle_id: str, sealed: bytes, version: str) -> Where:
    data = json.loads(open_text(sealed, record="circle", record_id=circle_id, field="where", version=version))
    return Where(place=str(data.get("place", "")), link=str(data.get("link", "")))


def seal_name(request_id: str, name: str) -> bytes:
    return seal_text(name, record="circle_request", record_id=request_id, field="name")


def open_name(request_id: str, sealed: bytes, version: str) -> str:
    return open_text(sealed, record="circle_request", record_id=request_id, field="name", version=version)


def seal_email(request_id: str, email: str) -> bytes:
    return seal_text(email, record="circle_request", record_id=request_id, field="email")


def open_email(request_id: str, sealed: bytes, version: str) -> str:
    return open_text(sealed, record="circle_request", record_id=request_id, field="email", version=version)
