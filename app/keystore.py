"""The app's keyring, read again from disk when it changed or a case names a key this
process lacks.

After `flask keys rotate` or `flask keys retire` in one process, running web and worker
processes see the new keyring at their next use of it (one stat of the file): new data keys
are wrapped under the new active KEK, and a retired KEK leaves their memory too.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from app.config import ROOT, Settings, current_settings
from app.crypto import Keyring, KeyringError, load_keyring
from app.crypto.keyring import keyring_path


def keys_dir(settings: Settings) -> Path:
    """The keyring folder; a relative path is relative to the project, not the caller."""
    path = Path(settings.keys_dir)
    return path if path.is_absolute() else ROOT / path


def _changed_at(directory: Path) -> int | None:
    try:
        return keyring_path(directory).stat().st_mtime_ns
    except OSError:
        return None  # gone for a moment (being replaced): the one in memory serves


def current_keyring(key_id: str | None = None) -> Keyring:
    """The keyring, holding ``key_id`` if one is named."""
    directory = keys_dir(current_settings())
    ring: Keyring | None = current_app.extensions.get("confide_keyring")
    changed_at = _changed_at(directory)
    stale = changed_at is not None and changed_at != current_app.extensions.get("confide_keyring_read")
    if ring is None or stale or (key_id is not None and key_id not in ring.keks):
        try:
            ring = load_keyring(directory)
        except KeyringError as error:
            raise RuntimeError(f"keyring unavailable: {error}") from None
        current_app.extensions["confide_keyring"] = ring
        current_app.extensions["confide_keyring_read"] = changed_at
    return ring
