"""A case's referrals when the case is about to be crypto-shredded (app/retention).

Every referral still going is revoked first, as when the reporter withdraws consent, and every
counsel who was ever sent a packet of it is told, content-free, to destroy their copies: the
referral leaves Confide with the case, so the email is all that will say so. The stage each
referral reached is kept as a count of its month, so the program's figures stay right.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from app.cases.tallies import REFERRALS, Key, add_stored, program_month
from app.extensions import db
from app.notify.service import notify_staff
from app.referrals.models import Referral
from app.referrals.services import Pending, _revoke_all
from app.referrals.vocabulary import ACTIVE


def end_before_shredding(case_id: str, reason: str) -> tuple[Pending, int]:
    """In the shredding's transaction: revoke the case's open referrals (``reason``: a code of
    REVOKE_REASONS), tell counsel to destroy their copies, and count each referral's stage.
    Not committed; returns the signals to send after the commit, and how many were revoked."""
    referrals = list(db.session.scalars(select(Referral).where(Referral.case_id == case_id).order_by(Referral.id)))
    pending: Pending = []
    going = [referral for referral in referrals if referral.status in ACTIVE]
    _revoke_all(going, reason, pending, None)
    counts = Counter[Key]()
    for referral_id, counsel_id, status, created_at, sent_at in db.session.execute(
        select(Referral.id, Referral.counsel_id, Referral.status, Referral.created_at, Referral.sent_at).where(
            Referral.case_id == case_id
        )
    ):
        counts[(program_month(created_at), "stage", status)] += 1
        if sent_at is not None:
            # No case id: the notice outlives the case, whose notices go with it.
            notify_staff(counsel_id, "referral_deleted", case_id=None, key=f"referral-deleted:{referral_id}")
    add_stored(counts, REFERRALS)
    return pending, len(going)
