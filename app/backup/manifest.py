"""What a backup says about itself (manifest.json), and which keys of the keyring it needs.

A backup never holds a key. It names the keyring's KEKs (their ids, when each was superseded,
how many case keys each wrapped), and for each, and for the root secret, a check value: an HMAC
of a fixed label under that key. The check values prove that the operator's keyring holds the
very keys the backup's cases were wrapped under (the same id with another key would not do)
without revealing anything of them, so a restore can refuse before it touches the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.crypto import Keyring
from app.crypto.keyring import FIRST_ROOT
from app.crypto.keyring import FORMAT as KEYRING_FORMAT

FORMAT = "confide-backup/1"
MANIFEST_NAME = "manifest.json"
CHECK_LABEL = b"confide-backup/key-check"


def key_check(key: bytes) -> str:
    """A key's check value: the same for the same key, and telling nothing of it."""
    return hmac.new(key, CHECK_LABEL, hashlib.sha256).hexdigest()


def root_check(ring: Keyring, version: str | None = None) -> str:
    """A root secret version's check value (None: the active one's; blind indexes, the audit
    chain and sessions derive from it)."""
    return key_check(ring.derive("backup/root-check", version=version))


def keyring_metadata(ring: Keyring, wraps: dict[str, int]) -> dict[str, Any]:
    """The keyring as the backup records it: ``wraps`` is how many case keys each KEK wraps."""
    keks: dict[str, Any] = {}
    for key_id in sorted(set(ring.keks) | set(wraps)):
        since = ring.superseded.get(key_id)
        keks[key_id] = {
            "wraps": wraps.get(key_id, 0),
            "active": key_id == ring.active_kek_id,
            "superseded": since.isoformat(timespec="seconds") if since else None,
            # None: a KEK the cases name but the keyring lacked when the backup was made.
            "check": key_check(ring.keks[key_id]) if key_id in ring.keks else None,
        }
    return {
        "format": KEYRING_FORMAT,
        "active_kek": ring.active_kek_id,
        "active_root": ring.active_root_id,
        "root_check": root_check(ring),
        "keks": keks,
    }


def keyring_problems(metadata: dict[str, Any], ring: Keyring) -> list[str]:
    """Why ``ring`` cannot open what a backup with keyring ``metadata`` holds (empty: it can)."""
    problems = []
    # The root version the backup was made under (a backup from before versions: the first);
    # the keyring may have a newer one beside it, as after a rotation.
    version = str(metadata.get("active_root") or FIRST_ROOT)
    if version not in ring.roots:
        problems.append(
            f"the keyring lacks root secret version {version}, under which the backup was made: use an "
            "offline keyring backup made before that version was retired"
        )
    elif not hmac.compare_digest(str(metadata.get("root_check", "")), root_check(ring, version)):
        problems.append(
            "the keyring's root secret is not the one the backup was made with (receipts, the audit chain "
            "and staff sign-in codes need it): use the keyring backed up with this deployment"
        )
    for key_id, kek in sorted(dict(metadata.get("keks", {})).items()):
        if not kek.get("wraps"):
            continue
        if key_id not in ring.keks:
            superseded = f", superseded {kek['superseded']}" if kek.get("superseded") else ""
            problems.append(
                f"the keyring lacks {key_id}{superseded}, which wraps {kek['wraps']} case key(s) of the backup: "
                "use an offline keyring backup made before that key was retired"
            )
        elif kek.get("check") and not hmac.compare_digest(str(kek["check"]), key_check(ring.keks[key_id])):
            problems.append(f"the keyring's {key_id} is not the key of that name the backup's cases were wrapped under")
    return problems


@dataclass(frozen=True)
class Manifest:
    created_at: datetime
    database: str  # postgresql | sqlite
    schema_revision: str | None
    dump_name: str
    dump_bytes: int
    dump_sha256: str
    tables: dict[str, int]
    keyring: dict[str, Any]
    # The audit chain's head in the snapshot: {"last_id": n, "last_hash": ...}.
    audit: dict[str, Any]
    # Case ids shredded before the backup was made (content-free), applied again on restore.
    shredded: tuple[str, ...] = ()
    format: str = field(default=FORMAT)

    def to_json(self) -> bytes:
        document = {
            "format": self.format,
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "database": self.database,
            "schema_revision": self.schema_revision,
            "dump": {"name": self.dump_name, "bytes": self.dump_bytes, "sha256": self.dump_sha256},
            "tables": self.tables,
            "keyring": self.keyring,
            "audit": self.audit,
            "shredded": list(self.shredded),
        }
        return json.dumps(document, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """The manifest of a backup; ValueError if it is not one this version can restore."""
        try:
            document = json.loads(data)
            if document.get("format") != FORMAT:
                raise ValueError(f"it is a {document.get('format')!r} backup; this version restores {FORMAT}")
            dump = document["dump"]
            return cls(
                created_at=datetime.fromisoformat(document["created_at"]),
                database=str(document["database"]),
                schema_revision=document["schema_revision"],
                dump_name=str(dump["name"]),
                dump_bytes=int(dump["bytes"]),
                dump_sha256=str(dump["sha256"]),
                tables={str(k): int(v) for k, v in document["tables"].items()},
                keyring=dict(document["keyring"]),
                audit=dict(document["audit"]),
                shredded=tuple(str(i) for i in document.get("shredded", [])),
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"its manifest is incomplete ({error.__class__.__name__})") from None
