"""Shredding again, in a restored copy, the cases shredded since its backup was made.

A backup made before a case was shredded still holds that case. The shred list is content-free
(case ids only): retention keeps it in the database (table ``shredded_cases``, read here in SQL
so that backups need nothing of retention's code), every backup carries it in its manifest, and
`flask backup shred-list` writes the live system's for the operator to keep with the backups.
Restoring applies the backup's list and the one given with ``--shred-list FILE``
(:func:`reapply`), and records them in the restored copy, so a shredded case stays shredded in
every copy and in the backups made from it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import delete, text

from app.cases.models import Case
from app.extensions import db
from app.models import utcnow

CASE_ID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
BATCH = 500


class ShredListError(Exception):
    """The shred list cannot be read, or holds something other than case ids."""


def read_shred_list(path: Path) -> list[str]:
    """The case ids in a shred list file, one a line; blank lines and # comments skipped."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ShredListError(f"cannot read the shred list {path}: {error.__class__.__name__}") from None
    ids = []
    for number, line in enumerate(lines, start=1):
        case_id = line.strip().lower()
        if not case_id or case_id.startswith("#"):
            continue
        if not CASE_ID_RE.fullmatch(case_id):
            # Never echo the line: a shred list must hold ids alone, and this one may not.
            raise ShredListError(f"{path}, line {number}: not a case id")
        ids.append(case_id)
    return ids


def recorded() -> list[str]:
    """The ids of every case retention shredded, from the app's database."""
    return sorted(db.session.scalars(text("SELECT case_id FROM shredded_cases")))


def _record(ids: list[str]) -> None:
    """Keep ``ids`` in the restored copy's own list, so that its backups carry them too."""
    new = sorted(set(ids) - set(recorded()))
    if new:
        db.session.execute(
            text("INSERT INTO shredded_cases (case_id, shredded_on, reason) VALUES (:case_id, :on, 'restored')"),
            [{"case_id": case_id, "on": utcnow()} for case_id in new],
        )


def reapply(shredded_ids: Iterable[str]) -> int:
    """Delete the listed cases from the app's database, committed: each case's row with its
    wrapped data key and sealed report, and through the foreign keys' ON DELETE CASCADE its
    messages, notes, consent records, exclusions, routing rounds, notifications, referrals and
    reporter sessions. The audit log keeps its content-free entries, and the program's tallies
    their counts. Ids not in the database are skipped. Returns how many cases were deleted."""
    ids = sorted(set(shredded_ids))
    deleted = 0
    if db.session.get_bind().dialect.name == "sqlite":
        # Deleted pages are overwritten with zeros, not left readable in the file.
        db.session.execute(text("PRAGMA secure_delete = ON"))
    for first in range(0, len(ids), BATCH):
        gone = db.session.execute(delete(Case).where(Case.id.in_(ids[first : first + BATCH])))
        deleted += int(gone.rowcount or 0)  # type: ignore[attr-defined]
    _record(ids)
    db.session.commit()
    return deleted
