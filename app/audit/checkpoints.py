"""Checkpoints of the audit chain kept outside the database.

The chain proves that no entry was changed or removed from the middle, and the keyed head that
the last ones were not cut off and the head moved back, by anyone without the keyring. What
it cannot prove from inside the database is that the whole tail, head and all, was not put
back to an older state. So every ``audit_checkpoint_minutes`` a worker appends a line to the
``audit_checkpoints`` file, and writes the same to the application log: when, the last entry's
number and hash, and a MAC of them under a key from the keyring. `flask audit verify` then
requires every entry a checkpoint saw to be there, with the hash it had.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from app.audit.models import AuditHead
from app.config import current_settings, private_folder
from app.crypto.keyring import FIRST_ROOT
from app.extensions import db
from app.keystore import current_keyring
from app.models import utcnow

log = logging.getLogger("confide.audit")
PROJECT = Path(__file__).resolve().parents[2]  # relative paths in the settings start here


@dataclass(frozen=True)
class Checkpoint:
    at: str
    last_id: int
    last_hash: str
    root: str = FIRST_ROOT  # the root version of its MAC's key (lines from before versions: root-1)


def checkpoints_path() -> Path:
    path = Path(current_settings().audit_checkpoints)
    return path if path.is_absolute() else PROJECT / path


def _mac(point: Checkpoint) -> str:
    ring = current_keyring()
    if point.root not in ring.roots:
        return ""  # made under a root version retired since: it cannot be told from a forgery
    key = ring.derive("audit/checkpoint", version=point.root)
    return hmac.new(key, f"{point.at}|{point.last_id}|{point.last_hash}".encode(), hashlib.sha256).hexdigest()


def checkpoint_line(point: Checkpoint) -> str:
    """The line of the file that keeps ``point``, with its MAC."""
    return json.dumps({**point.__dict__, "mac": _mac(point)}, separators=(",", ":")) + "\n"


def read_checkpoints() -> tuple[list[Checkpoint], list[int]]:
    """The genuine checkpoints in the file, and the numbers of lines that are not."""
    path = checkpoints_path()
    if not path.exists():
        return [], []
    points, forged = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            root = str(data.get("root", FIRST_ROOT))
            point = Checkpoint(str(data["at"]), int(data["last_id"]), str(data["last_hash"]), root)
            genuine = hmac.compare_digest(str(data["mac"]), _mac(point)) and bool(data["mac"])
        except (ValueError, KeyError, TypeError):
            genuine = False
        if genuine:
            points.append(point)
        else:
            forged.append(number)
    return points, forged


@contextlib.contextmanager
def checkpoints_held() -> Iterator[None]:
    """The checkpoints file to oneself: a checkpoint is written whole, the head it names read
    under the same hold, and `flask keys rekey` writes the file again with none slipped in."""
    path = checkpoints_path()
    private_folder(path.parent)
    descriptor = os.open(path.with_name(path.name + ".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # and the hold with it


def write_checkpoint(*, again: bool = False) -> Checkpoint | None:
    """Append the chain's head to the file and the log, unless it has not moved since the
    last checkpoint (``again``: even then). Returns the checkpoint written."""
    with checkpoints_held():
        return append_checkpoint(again=again)


def append_checkpoint(*, again: bool = False) -> Checkpoint | None:
    """:func:`write_checkpoint`, for a caller holding the file (:func:`checkpoints_held`)."""
    head = db.session.get(AuditHead, 1, populate_existing=True)
    if head is None or head.last_id == 0:
        return None
    points, _ = read_checkpoints()
    if points and points[-1].last_id == head.last_id and not again:
        return None
    root = current_keyring().active_root_id
    point = Checkpoint(utcnow().isoformat(timespec="seconds"), head.last_id, head.last_hash, root)
    line = checkpoint_line(point)
    path = checkpoints_path()
    private_folder(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if os.fstat(descriptor).st_mode & 0o077:
            os.fchmod(descriptor, 0o600)  # a file left readable by an older version
        os.write(descriptor, line.encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    log.info("audit checkpoint: entry %d, hash %s", point.last_id, point.last_hash)
    return point
