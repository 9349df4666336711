"""Key handling and encryption at rest. Plain functions; nothing here imports Flask."""

from app.crypto.blind_index import blind_index
from app.crypto.envelope import (
    DecryptionError,
    WrappedKey,
    new_dek,
    open_field,
    seal_field,
    unwrap_dek,
    wrap_dek,
)
from app.crypto.keyring import Keyring, KeyringError, create_keyring, load_keyring

__all__ = [
    "DecryptionError",
    "Keyring",
    "KeyringError",
    "WrappedKey",
    "blind_index",
    "create_keyring",
    "load_keyring",
    "new_dek",
    "open_field",
    "seal_field",
    "unwrap_dek",
    "wrap_dek",
]
