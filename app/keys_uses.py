"""What each version of the root secret still protects: every stored value made with a key
derived from the root names the version it used, in a column listed here.

`flask keys status` counts them per version, and `flask keys retire` removes a superseded root
version only when every count is zero. A value that lives only minutes (a reporter's session,
an enrolment link, a form's submission token, a rate-limit key) is made under the active
version and is not listed: it lapses, and a rotation ends it early (see keys/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute

from app.cases.models import Case
from app.circles.models import CircleRequest
from app.extensions import db
from app.staff.models import RecoveryCode


@dataclass(frozen=True)
class RootUse:
    what: str  # plural, as the operator reads it: "receipt indexes"
    version: InstrumentedAttribute[str]  # the column naming the root version used
    needed: ColumnElement[bool] | None = None  # rows that still need it (None: every row)


ROOT_USES: tuple[RootUse, ...] = (
    # Re-keyed when the reporter next opens /status with her receipt (app/intake/finding.py).
    RootUse("receipt indexes", Case.receipt_root),
    # Re-keyed when she next uses her code (app/circles/asking.py).
    RootUse("circle request codes", CircleRequest.code_root),
    # Kept until spent, or replaced by a coordinator's new recovery codes.
    RootUse("unused staff recovery codes", RecoveryCode.code_root, RecoveryCode.used_at.is_(None)),
)


def root_uses(uses: tuple[RootUse, ...] = ROOT_USES) -> dict[str, list[tuple[str, int]]]:
    """For each root version named in the database: (what, how many) it still protects."""
    found: dict[str, list[tuple[str, int]]] = {}
    for use in uses:
        query = select(use.version, func.count()).group_by(use.version)
        if use.needed is not None:
            query = query.where(use.needed)
        for version, count in db.session.execute(query):
            found.setdefault(str(version), []).append((use.what, int(count)))
    return found


def describe(protects: list[tuple[str, int]]) -> str:
    """``protects`` in words: "3 receipt indexes, 1 staff TOTP secret"."""
    return ", ".join(f"{count} {what}" for what, count in protects) or "nothing"
