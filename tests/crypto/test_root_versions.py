"""The root secret's versions in the keyring file: older files read as version root-1, a new
root version derives other keys, and the older one keeps deriving what it always did."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from app.crypto import KeyringError, create_keyring, load_keyring
from app.crypto.blind_index import blind_index
from app.crypto.keyring import save_keyring


def test_a_format_2_keyring_reads_its_root_as_root_1(tmp_path: Path) -> None:
    ring = create_keyring(tmp_path)
    document = {
        "format": "confide-keyring/2",
        "active_kek": ring.active_kek_id,
        "keks": {ring.active_kek_id: {"key": base64.b64encode(ring.kek(ring.active_kek_id)).decode()}},
        "root": base64.b64encode(ring.root).decode(),
    }
    ring.path.write_text(json.dumps(document))
    os.chmod(ring.path, 0o600)
    old = load_keyring(tmp_path)
    assert old.active_root_id == "root-1" and old.roots == {"root-1": ring.root}
    assert blind_index(old, "receipt", "1234") == blind_index(ring, "receipt", "1234")
    save_keyring(old)
    assert json.loads(ring.path.read_text())["format"] == "confide-keyring/3"
    assert load_keyring(tmp_path).derive("audit/chain") == ring.derive("audit/chain")


def test_a_new_root_version_derives_new_keys_and_the_old_ones_stay(tmp_path: Path) -> None:
    ring = create_keyring(tmp_path)
    rotated = ring.with_new_root()
    save_keyring(rotated)
    again = load_keyring(tmp_path)
    assert again.active_root_id == "root-2" and again.older_roots() == ["root-1"]
    assert again.root_superseded["root-1"] is not None
    assert again.derive("staff/totp") != ring.derive("staff/totp")
    assert again.derive("staff/totp", version="root-1") == ring.derive("staff/totp")
    assert again.with_new_root().active_root_id == "root-3"
    retired = again.without_root("root-1")
    assert list(retired.roots) == ["root-2"]
    with pytest.raises(KeyringError, match="not in the keyring"):
        retired.derive("staff/totp", version="root-1")
    with pytest.raises(KeyringError, match="active root version"):
        again.without_root("root-2")


def test_a_keyring_without_its_active_root_is_refused(tmp_path: Path) -> None:
    ring = create_keyring(tmp_path).with_new_root()
    save_keyring(ring)
    document = json.loads(ring.path.read_text())
    document["active_root"] = "root-9"
    ring.path.write_text(json.dumps(document))
    with pytest.raises(KeyringError, match="no active root version"):
        load_keyring(tmp_path)
