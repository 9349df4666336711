"""When the last backup was made: a small JSON file (``backup.state_file``), mode 0600.

A file rather than a row: a row would travel with the database into every backup, and a
restored copy would then claim the backups its own original made. The operator's checks
(`flask doctor`) read :func:`last_backup` to say how old the newest backup is.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from app.config import ROOT, Settings, private_folder


def state_path(settings: Settings) -> Path:
    path = Path(settings.backup.state_file)
    return path if path.is_absolute() else ROOT / path


def record_backup(settings: Settings, at: datetime, size: int) -> None:
    """Note that a backup of ``size`` bytes was made ``at`` (replacing the last note)."""
    path = state_path(settings)
    private_folder(path.parent)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"at": at.isoformat(timespec="seconds"), "bytes": size}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def last_backup(settings: Settings) -> datetime | None:
    """When the last successful `flask backup create` finished, or None if none is known."""
    try:
        document = json.loads(state_path(settings).read_text())
        return datetime.fromisoformat(str(document["at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
