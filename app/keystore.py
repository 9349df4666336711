"""The app's keyring, reloaded from disk when a case names a key this process lacks.

After `flask keys rotate` in one process, running web and worker processes meet case keys
wrapped by the new KEK; they pick it up here instead of failing until restarted.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from app.config import ROOT, Settings, current_settings
from app.crypto import Keyring, KeyringError, load_keyring


def keys_dir(settings: Settings) -> Path:
    """The keyring folder; a relative path is relative to the project, not the caller."""
    path = Path(settings.keys_dir)
    return path if path.is_absolute() else ROOT / path


def current_keyring(key_id: str | None = None) -> Keyring:
    """The keyring, holding ``key_id`` if one is named."""
    ring: Keyring | None = current_app.extensions.get("confide_keyring")
    if ring is None or (key_id is not None and key_id not in ring.keks):
        try:
            ring = load_keyring(keys_dir(current_settings()))
        except KeyringError as error:
            raise RuntimeError(f"keyring unavailable: {error}") from None
        current_app.extensions["confide_keyring"] = ring
    return ring
