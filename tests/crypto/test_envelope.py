"""Envelope encryption: what comes back is what went in, and nothing else opens."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.crypto import (
    DecryptionError,
    Keyring,
    KeyringError,
    WrappedKey,
    blind_index,
    create_keyring,
    load_keyring,
    new_dek,
    open_field,
    seal_field,
    unwrap_dek,
    wrap_dek,
)
from app.crypto.keyring import save_keyring

names = st.text(min_size=1, max_size=40)
payloads = st.binary(max_size=2048)


@pytest.fixture(scope="module")
def ring(tmp_path_factory: pytest.TempPathFactory) -> Keyring:
    return create_keyring(tmp_path_factory.mktemp("ring"))


@given(plaintext=payloads, record=names, record_id=names, field=names)
def test_round_trip(plaintext: bytes, record: str, record_id: str, field: str) -> None:
    dek = new_dek()
    sealed = seal_field(dek, plaintext, record=record, record_id=record_id, field=field)
    assert open_field(dek, sealed, record=record, record_id=record_id, field=field) == plaintext
    if len(plaintext) >= 8:
        assert plaintext not in sealed


@given(plaintext=payloads, data=st.data())
def test_any_flipped_bit_fails(plaintext: bytes, data: st.DataObject) -> None:
    dek = new_dek()
    sealed = bytearray(seal_field(dek, plaintext, record="case", record_id="1", field="report"))
    bit = data.draw(st.integers(min_value=0, max_value=len(sealed) * 8 - 1))
    sealed[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(DecryptionError):
        open_field(dek, bytes(sealed), record="case", record_id="1", field="report")


@given(plaintext=payloads, place=st.tuples(names, names, names), other=st.tuples(names, names, names))
def test_value_moved_to_another_place_fails(
    plaintext: bytes, place: tuple[str, str, str], other: tuple[str, str, str]
) -> None:
    if place == other:
        return
    dek = new_dek()
    record, record_id, field = place
    sealed = seal_field(dek, plaintext, record=record, record_id=record_id, field=field)
    with pytest.raises(DecryptionError):
        open_field(dek, sealed, record=other[0], record_id=other[1], field=other[2])


def test_swapped_fields_and_records_fail() -> None:
    dek = new_dek()
    report = seal_field(dek, b"narrative", record="case", record_id="A", field="report")
    contact = seal_field(dek, b"name", record="case", record_id="A", field="contact")
    with pytest.raises(DecryptionError):
        open_field(dek, report, record="case", record_id="A", field="contact")
    with pytest.raises(DecryptionError):
        open_field(dek, contact, record="case", record_id="A", field="report")
    with pytest.raises(DecryptionError):
        open_field(dek, report, record="case", record_id="B", field="report")
    with pytest.raises(DecryptionError):
        open_field(new_dek(), report, record="case", record_id="A", field="report")


@settings(max_examples=50)
@given(owner=names, other=names)
def test_wrapped_key_opens_only_for_its_owner(ring: Keyring, owner: str, other: str) -> None:
    dek = new_dek()
    wrapped = wrap_dek(ring, dek, owner=owner)
    assert wrapped.key_id == ring.active_kek_id and dek not in wrapped.blob
    assert unwrap_dek(ring, wrapped, owner=owner) == dek
    if other != owner:
        with pytest.raises(DecryptionError):
            unwrap_dek(ring, wrapped, owner=other)


def test_wrapped_key_records_scheme_and_refuses_unknown_ones(ring: Keyring) -> None:
    wrapped = wrap_dek(ring, new_dek(), owner="case:1")
    assert wrapped.scheme == "kek-aes256gcm/1"
    with pytest.raises(DecryptionError):
        unwrap_dek(ring, WrappedKey("rot13", wrapped.key_id, wrapped.blob), owner="case:1")


def test_rotation_keeps_old_keys_openable(tmp_path: Path) -> None:
    ring = create_keyring(tmp_path)
    dek = new_dek()
    old = wrap_dek(ring, dek, owner="case:1")
    rotated = ring.with_new_kek()
    save_keyring(rotated)
    reloaded = load_keyring(tmp_path)
    assert reloaded.active_kek_id != ring.active_kek_id
    assert unwrap_dek(reloaded, old, owner="case:1") == dek
    assert wrap_dek(reloaded, dek, owner="case:1").key_id == reloaded.active_kek_id


def test_blind_index_is_keyed_and_purpose_bound(ring: Keyring, tmp_path: Path) -> None:
    other_ring = create_keyring(tmp_path)
    value = "12345678901234567890"
    assert blind_index(ring, "receipt", value) == blind_index(ring, "receipt", value)
    assert blind_index(ring, "receipt", value) != blind_index(ring, "submission", value)
    assert blind_index(ring, "receipt", value) != blind_index(other_ring, "receipt", value)
    assert value.encode() not in blind_index(ring, "receipt", value)


def test_keyring_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    ring = create_keyring(tmp_path)
    assert stat.S_IMODE(ring.path.stat().st_mode) == 0o600
    with pytest.raises(KeyringError, match="already exists"):
        create_keyring(tmp_path)
    os.chmod(ring.path, 0o644)
    with pytest.raises(KeyringError, match="readable by other users"):
        load_keyring(tmp_path)


def test_missing_or_damaged_keyring_is_explained(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="flask keys init"):
        load_keyring(tmp_path)
    (tmp_path / "keyring.json").write_text("{not json")
    os.chmod(tmp_path / "keyring.json", 0o600)
    with pytest.raises(KeyringError, match="cannot read"):
        load_keyring(tmp_path)
