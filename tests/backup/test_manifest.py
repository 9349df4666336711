"""What a backup records of the keyring, and how a restore tells the keyring cannot open it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from app.backup.manifest import keyring_metadata, keyring_problems
from app.crypto import create_keyring


def test_a_keyring_that_opens_the_backup_has_no_problem(tmp_path: Path) -> None:
    ring = create_keyring(tmp_path)
    assert keyring_problems(keyring_metadata(ring, {ring.active_kek_id: 12}), ring) == []


def test_a_rotated_keyring_opens_a_backup_until_the_old_key_is_retired(tmp_path: Path) -> None:
    ring = create_keyring(tmp_path)
    old = ring.active_kek_id
    metadata = keyring_metadata(ring, {old: 12})
    rotated = ring.with_new_kek(datetime(2026, 3, 1, tzinfo=UTC))
    assert keyring_problems(metadata, rotated) == []
    # Once the KEK is retired, the backup made before the rotation needs the older keyring.
    problems = keyring_problems(metadata, rotated.without_kek(old))
    assert len(problems) == 1 and f"lacks {old}" in problems[0] and "wraps 12 case key(s)" in problems[0]


def test_a_key_of_the_same_name_but_another_keyring_is_refused(tmp_path: Path) -> None:
    ring, other = create_keyring(tmp_path / "a"), create_keyring(tmp_path / "b")
    metadata = keyring_metadata(ring, {ring.active_kek_id: 1})
    impostor = type(other)(
        path=other.path,
        active_kek_id=ring.active_kek_id,
        keks={ring.active_kek_id: other.keks[other.active_kek_id]},
        roots=ring.roots,
        active_root_id=ring.active_root_id,
    )
    problems = keyring_problems(metadata, impostor)
    assert problems == [
        f"the keyring's {ring.active_kek_id} is not the key of that name the backup's cases were wrapped under"
    ]
    assert "root secret" in keyring_problems(metadata, other)[0]


def test_a_backup_made_before_a_root_rotation_opens_with_the_rotated_keyring(tmp_path: Path) -> None:
    ring = create_keyring(tmp_path)
    metadata = keyring_metadata(ring, {ring.active_kek_id: 1})
    assert keyring_problems(metadata, ring.with_new_root()) == []


def test_a_superseded_key_that_wraps_nothing_is_not_needed(tmp_path: Path) -> None:
    ring = create_keyring(tmp_path).with_new_kek()
    metadata = keyring_metadata(ring, {ring.active_kek_id: 3})
    older = next(key_id for key_id in ring.keks if key_id != ring.active_kek_id)
    assert metadata["keks"][older]["superseded"] is not None and metadata["keks"][older]["wraps"] == 0
    assert keyring_problems(metadata, ring.without_kek(older)) == []
