"""The keyring: versioned key-encryption keys and a root secret for derived keys.

The keyring is one JSON file written with mode 0600. KEKs only ever wrap per-case data
keys; every other secret (blind-index keys, the session signing key, the rate-limit
salt) is derived from the root secret with HKDF, each under its own label, so no key
serves two purposes.

A KEK that a newer one replaced is kept, marked with when it was superseded, until every data
key it wrapped is wrapped again under the active one and the operator retires it
(``flask keys retire``). The root secret has versions the same way ("root-1", "root-2", ...):
new keys derive from the active one, and every stored value made with a derived key names the
version it used, until nothing uses an older version and it is retired too. Version 1 and 2
files (one root, no versions) are still read, their root as "root-1"; they are written as 3.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEYRING_FILE = "keyring.json"
FORMAT = "confide-keyring/3"
FORMATS = ("confide-keyring/1", "confide-keyring/2", FORMAT)
FIRST_ROOT = "root-1"
KEY_BYTES = 32


class KeyringError(Exception):
    """The keyring is missing, unreadable or unsafe."""


@dataclass(frozen=True)
class Keyring:
    path: Path
    active_kek_id: str
    keks: dict[str, bytes]
    roots: dict[str, bytes]
    active_root_id: str = FIRST_ROOT
    # When each KEK but the active one was replaced by a newer one (None: before dates were kept).
    superseded: dict[str, datetime | None] = field(default_factory=dict)
    # The same for each root version but the active one.
    root_superseded: dict[str, datetime | None] = field(default_factory=dict)

    @property
    def root(self) -> bytes:
        """The active root secret."""
        return self.roots[self.active_root_id]

    def kek(self, key_id: str) -> bytes:
        try:
            return self.keks[key_id]
        except KeyError:
            raise KeyringError(f"key {key_id!r} is not in the keyring at {self.path}") from None

    def derive(self, label: str, length: int = KEY_BYTES, *, version: str | None = None) -> bytes:
        """A key for one purpose, derived from root version ``version`` (None: the active one).
        Same label and version, same key."""
        try:
            root = self.roots[version or self.active_root_id]
        except KeyError:
            raise KeyringError(f"root version {version!r} is not in the keyring at {self.path}") from None
        return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=b"confide/" + label.encode()).derive(root)

    def root_versions(self) -> list[str]:
        """Every root version, the active one first, then the others newest first: the order
        in which to look a keyed value up."""
        return [self.active_root_id, *self.older_roots()]

    def older_roots(self) -> list[str]:
        """The root versions but the active one, newest first."""
        return sorted((v for v in self.roots if v != self.active_root_id), key=_root_number, reverse=True)

    def with_new_kek(self, now: datetime | None = None) -> Keyring:
        """A new active KEK; the one it replaces is kept, superseded ``now``."""
        key_id = _new_key_id()
        return replace(
            self,
            active_kek_id=key_id,
            keks={**self.keks, key_id: secrets.token_bytes(KEY_BYTES)},
            superseded={**self.superseded, self.active_kek_id: now or datetime.now(UTC)},
        )

    def without_kek(self, key_id: str) -> Keyring:
        """The keyring with a superseded KEK gone for good."""
        if key_id == self.active_kek_id:
            raise KeyringError(f"{key_id} is the active key and cannot be retired")
        return replace(
            self,
            keks={other: key for other, key in self.keks.items() if other != key_id},
            superseded={other: when for other, when in self.superseded.items() if other != key_id},
        )

    def with_new_root(self, now: datetime | None = None) -> Keyring:
        """A new active root version; the one it replaces is kept, superseded ``now``."""
        version = f"root-{max(_root_number(v) for v in self.roots) + 1}"
        return replace(
            self,
            active_root_id=version,
            roots={**self.roots, version: secrets.token_bytes(KEY_BYTES)},
            root_superseded={**self.root_superseded, self.active_root_id: now or datetime.now(UTC)},
        )

    def without_root(self, version: str) -> Keyring:
        """The keyring with a superseded root version gone for good."""
        if version == self.active_root_id:
            raise KeyringError(f"{version} is the active root version and cannot be retired")
        return replace(
            self,
            roots={other: key for other, key in self.roots.items() if other != version},
            root_superseded={other: when for other, when in self.root_superseded.items() if other != version},
        )


def _root_number(version: str) -> int:
    prefix, _, number = version.partition("-")
    if prefix != "root" or not number.isdigit():
        raise KeyringError(f"{version!r} is not a root version (root-1, root-2, ...)")
    return int(number)


def _new_key_id() -> str:
    return f"kek-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise KeyringError(f"{what} is not valid base64") from None
    if len(data) != KEY_BYTES:
        raise KeyringError(f"{what} must be {KEY_BYTES} bytes")
    return data


def keyring_path(keys_dir: str | os.PathLike[str]) -> Path:
    return Path(keys_dir) / KEYRING_FILE


def create_keyring(keys_dir: str | os.PathLike[str]) -> Keyring:
    """Write a new keyring. Refuses to overwrite one that exists."""
    directory = Path(keys_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_id = _new_key_id()
    ring = Keyring(
        path=keyring_path(directory),
        active_kek_id=key_id,
        keks={key_id: secrets.token_bytes(KEY_BYTES)},
        roots={FIRST_ROOT: secrets.token_bytes(KEY_BYTES)},
    )
    save_keyring(ring, exclusive=True)
    return ring


def save_keyring(ring: Keyring, *, exclusive: bool = False) -> None:
    """Write the keyring atomically with mode 0600."""
    document = {
        "format": FORMAT,
        "active_kek": ring.active_kek_id,
        "keks": {
            key_id: {"key": _b64(key), "superseded": _when(ring.superseded.get(key_id))}
            for key_id, key in ring.keks.items()
        },
        "active_root": ring.active_root_id,
        "roots": {
            version: {"key": _b64(key), "superseded": _when(ring.root_superseded.get(version))}
            for version, key in ring.roots.items()
        },
    }
    data = json.dumps(document, indent=2).encode()
    if exclusive:
        try:
            fd = os.open(ring.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise KeyringError(f"a keyring already exists at {ring.path}") from None
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return
    temporary = ring.path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, ring.path)


def load_keyring(keys_dir: str | os.PathLike[str]) -> Keyring:
    """Read the keyring, refusing one that other users could read."""
    path = keyring_path(keys_dir)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyringError(f"no keyring at {path}; create one with `flask keys init`") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyringError(f"{path} is readable by other users; run `chmod 600 {path}`")
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise KeyringError(f"cannot read {path}: {error.__class__.__name__}") from None
    if not isinstance(document, dict) or document.get("format") not in FORMATS:
        raise KeyringError(f"{path} is not a {FORMAT} file")
    keks_doc = document.get("keks")
    active = document.get("active_kek")
    if not isinstance(keks_doc, dict) or not isinstance(active, str) or active not in keks_doc:
        raise KeyringError(f"{path} has no active key-encryption key")
    keks, superseded = {}, {}
    for key_id, entry in keks_doc.items():
        # Version 1: the key alone. Version 2: the key and when it was superseded.
        record = entry if isinstance(entry, dict) else {"key": entry}
        keks[str(key_id)] = _unb64(record.get("key", ""), f"key {key_id}")
        if key_id != active:
            superseded[str(key_id)] = _parse_when(record.get("superseded"), f"key {key_id}")
    roots, active_root, root_superseded = _roots(document, path)
    return Keyring(
        path=path,
        active_kek_id=active,
        keks=keks,
        roots=roots,
        active_root_id=active_root,
        superseded=superseded,
        root_superseded=root_superseded,
    )


def _roots(document: dict[str, object], path: Path) -> tuple[dict[str, bytes], str, dict[str, datetime | None]]:
    """The root versions, the active one, and when each other one was superseded."""
    if "roots" not in document:  # versions 1 and 2: one root, its first version
        return {FIRST_ROOT: _unb64(str(document.get("root", "")), "root")}, FIRST_ROOT, {}
    roots_doc, active = document.get("roots"), document.get("active_root")
    if not isinstance(roots_doc, dict) or not isinstance(active, str) or active not in roots_doc:
        raise KeyringError(f"{path} has no active root version")
    roots, superseded = {}, {}
    for version, record in roots_doc.items():
        _root_number(str(version))
        if not isinstance(record, dict):
            raise KeyringError(f"{path}: root {version} is not a key record")
        roots[str(version)] = _unb64(record.get("key", ""), f"root {version}")
        if version != active:
            superseded[str(version)] = _parse_when(record.get("superseded"), f"root {version}")
    return roots, active, superseded


def _when(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


def _parse_when(text: object, what: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        raise KeyringError(f"{what}: superseded is not a date and time") from None
