"""What each version of the root secret still protects: every stored value made with a key
derived from the root names the version it used, in a column listed here.

`flask keys status` counts them per version, and `flask keys retire` removes a superseded root
version only when every count is zero. A value that lives minutes or days is made under the
active version and is not listed: a reporter's session and an enrolment link are looked up
under every version in the keyring and end when theirs retires; a form's submission token and a
rate-limit key simply lapse (see keys/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute

from app.audit.models import AuditEntry, AuditHead
from app.audit.rekeying import rekey_audit
from app.cases.models import Case, CaseExclusion, ConsentRecord, ReportTally
from app.cases.rootkeys import rekey_consent, rekey_exclusions, rekey_tallies
from app.circles import sealing
from app.circles.models import Circle, CircleRequest
from app.crypto import Keyring
from app.extensions import db
from app.rekey import Reseal, reseal_all
from app.staff import credentials, paging
from app.staff.models import RecoveryCode, StaffUser


@dataclass(frozen=True)
class RootUse:
    what: str  # plural, as the operator reads it: "receipt indexes"
    version: InstrumentedAttribute[Any]  # the column naming the root version used
    needed: ColumnElement[bool] | None = None  # rows that still need it (None: every row)


ROOT_USES: tuple[RootUse, ...] = (
    # Re-keyed when the reporter next opens /status with her receipt (app/intake/finding.py).
    RootUse("receipt indexes", Case.receipt_root),
    # Re-keyed when she next uses her code (app/circles/asking.py).
    RootUse("circle request codes", CircleRequest.code_root),
    # Kept until spent, or replaced by a coordinator's new recovery codes.
    RootUse("unused staff recovery codes", RecoveryCode.code_root, RecoveryCode.used_at.is_(None)),
    # Sealed again under the active version by `flask keys rekey` (rekey_sealed below).
    RootUse("staff TOTP secrets", StaffUser.totp_root, StaffUser.totp_sealed.is_not(None)),
    RootUse("paging addresses", StaffUser.paging_root, StaffUser.paging_sealed.is_not(None)),
    RootUse("circle places", Circle.seal_root),
    RootUse("circle requests' names and emails", CircleRequest.seal_root),
    # Indexed anew by `flask keys rekey` from what the server holds (app/cases/rootkeys.py).
    RootUse("consent choices", ConsentRecord.seal_root),
    RootUse("exclusions", CaseExclusion.index_root),
    RootUse("tallies of sealed answers", ReportTally.answer_root),
    # Linked again by `flask keys rekey` once the chain verifies (app/audit/rekeying.py).
    RootUse("audit log links", AuditEntry.key_root),
    RootUse("audit head seal", AuditHead.key_root),
)


def _totp(ring: Keyring) -> Reseal:
    return lambda staff_id, _, sealed, version: credentials.seal_totp(
        ring, staff_id, credentials.open_totp(ring, staff_id, sealed, version=version)
    )


def _paging(ring: Keyring) -> Reseal:
    return lambda staff_id, _, sealed, version: paging._seal(
        staff_id, paging.open_paging(ring, staff_id, sealed, version)
    )


def _circles(record: str) -> Reseal:
    def reseal(row_id: str, column: str, sealed: bytes, version: str) -> bytes:
        field = column.removesuffix("_sealed")
        value = sealing.open_text(sealed, record=record, record_id=row_id, field=field, version=version)
        return sealing.seal_text(value, record=record, record_id=row_id, field=field)

    return reseal


def rekey_sealed(ring: Keyring) -> int:
    """Every value sealed or indexed under an older root version that the server can open or
    make again, sealed or indexed again under the active one, in batches (app/rekey.py,
    app/cases/rootkeys.py), and the audit chain linked again (app/audit/rekeying.py: raises
    ChainBroken, having done the rest, if it does not verify); returns how many rows were."""
    jobs: list[tuple[InstrumentedAttribute[Any], list[InstrumentedAttribute[Any]], Reseal]] = [
        (StaffUser.totp_root, [StaffUser.totp_sealed], _totp(ring)),
        (StaffUser.paging_root, [StaffUser.paging_sealed], _paging(ring)),
        (Circle.seal_root, [Circle.where_sealed], _circles("circle")),
        (CircleRequest.seal_root, [CircleRequest.name_sealed, CircleRequest.email_sealed], _circles("circle_request")),
    ]
    resealed = sum(reseal_all(ring, version, columns, reseal) for version, columns, reseal in jobs)
    everyone = list(db.session.scalars(select(StaffUser.id)))
    return resealed + rekey_consent(ring) + rekey_exclusions(ring, everyone) + rekey_tallies(ring) + rekey_audit()


def root_uses(uses: tuple[RootUse, ...] = ROOT_USES) -> dict[str, list[tuple[str, int]]]:
    """For each root version named in the database: (what, how many) it still protects."""
    found: dict[str, list[tuple[str, int]]] = {}
    for use in uses:
        query = select(use.version, func.count()).where(use.version.is_not(None)).group_by(use.version)
        if use.needed is not None:
            query = query.where(use.needed)
        for version, count in db.session.execute(query):
            found.setdefault(str(version), []).append((use.what, int(count)))
    return found


def describe(protects: list[tuple[str, int]]) -> str:
    """``protects`` in words: "3 receipt indexes, 1 staff TOTP secret"."""
    return ", ".join(f"{count} {what}" for what, count in protects) or "nothing"
