"""Referring a case to counsel, within the consent the reporter gave.

Consent is checked when a referral is begun and again at the moment it is sent, which is when
the packet is made. Withdrawing consent revokes every referral it covered, in the same
transaction that records the withdrawal, and deletes their packets.

Every step is a conditional UPDATE from the status it was taken from, so two steps racing
(a send and a withdrawal, a decision and a revocation) cannot both land: the loser changes
nothing and is told. Steps are audited after their commit.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select, update

from app.access import COORDINATOR, COUNSEL
from app.cases.consent import CONTACT_PURPOSES, current_consent
from app.cases.models import Case
from app.extensions import db
from app.models import minute_now, utcnow
from app.notify.service import notify_coordinators, notify_staff
from app.referrals import packet
from app.referrals.directory import counsel_directory
from app.referrals.models import CounselProfile, Referral
from app.referrals.vocabulary import ACTIVE, DECLINE_REASONS, OPEN_TO_COUNSEL, REVOKE_REASONS, STEPS
from app.signals import announce
from app.staff.models import StaffUser
from app.vocabulary import QUEUE_RANK, TRANSITIONS

log = logging.getLogger("confide.referrals")

CHANGED = "This referral changed meanwhile (it may have been withdrawn). Reload the page to see where it stands."
# Stamped when a referral reaches the status.
STAMPS = {
    "sent": "sent_at",
    "acknowledged": "acknowledged_at",
    "accepted": "decided_at",
    "declined": "decided_at",
    "closed": "ended_at",
    "revoked": "ended_at",
}
# Once a referral is over, nobody needs its packet: counsel can no longer download it.
PACKET_GONE = ("declined", "closed", "revoked")


class ReferralError(Exception):
    """A step that cannot be taken; the message says why, for the person who tried."""


# Signals to send once the transaction they describe has committed.
Pending = list[tuple[str, dict[str, Any]]]


def announce_pending(pending: Pending) -> None:
    for name, fields in pending:
        announce(name, **fields)


def _step(
    referral: Referral,
    old: str,
    new: str,
    *,
    actor: StaffUser | None,
    pending: Pending,
    reason: str | None = None,
    **values: Any,
) -> bool:
    """Move ``referral`` from ``old`` to ``new`` unless someone moved it first. Not committed."""
    if new not in STEPS[old]:
        raise ReferralError(f"A referral that is {old} cannot become {new}.")
    # A step the reporter causes (her consent withdrawn) is timed as she is: to the minute.
    values = {"status": new, STAMPS[new]: utcnow() if actor else minute_now(), **values}
    if reason is not None:
        values["reason"] = reason
    if new in PACKET_GONE:
        values["packet"] = None
    moved = db.session.execute(
        update(Referral).where(Referral.id == referral.id, Referral.status == old).values(**values)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        return False
    pending.append(
        (
            "referral_status_changed",
            {
                "actor": actor.id if actor else "",
                "role": actor.role if actor else "reporter",
                "case_id": referral.case_id,
                "referral": referral.id,
                "old": old,
                "new": new,
                "reason": reason,
            },
        )
    )
    return True


def _take(referral: Referral, new: str, *, actor: StaffUser, reason: str | None = None) -> Pending:
    """One step from the status the caller saw; ReferralError (nothing changed) if it moved."""
    pending: Pending = []
    if not _step(referral, referral.status, new, actor=actor, pending=pending, reason=reason):
        db.session.rollback()
        raise ReferralError(CHANGED)
    return pending


def _case_back_from_referred(case_id: str, pending: Pending, actor: StaffUser | None) -> None:
    """A referred case with no referral still going is in progress again."""
    going = db.session.scalar(
        select(exists().where(Referral.case_id == case_id, Referral.status.in_(("sent", "acknowledged", "accepted"))))
    )
    if going:
        return
    moved = db.session.execute(
        update(Case)
        .where(Case.id == case_id, Case.status == "referred")
        .values(status="in_progress", queue_rank=QUEUE_RANK["in_progress"], updated_at=minute_now())
    )
    if moved.rowcount:  # type: ignore[attr-defined]
        pending.append(
            (
                "case_status_changed",
                {
                    "actor": actor.id if actor else "",
                    "role": actor.role if actor else "system",
                    "case_id": case_id,
                    "old": "referred",
                    "new": "in_progress",
                    "reason": None,
                },
            )
        )


def referrals_for_case(case_id: str) -> list[Referral]:
    return list(db.session.scalars(select(Referral).where(Referral.case_id == case_id).order_by(Referral.created_at)))


def create_referral(viewer: StaffUser, case: Case, counsel_id: str) -> Referral:
    if viewer.role != COORDINATOR:
        raise ReferralError("Only a coordinator can refer a case to counsel.")
    if not current_consent(case.id)["legal_referral"]:
        raise ReferralError("The reporter has not agreed to a legal referral.")
    counsel = {c.user.id: c for c in counsel_directory()}.get(counsel_id)
    if counsel is None:
        raise ReferralError("Choose counsel from the directory.")
    already = db.session.scalar(
        select(Referral.id).where(
            Referral.case_id == case.id, Referral.counsel_id == counsel_id, Referral.status.in_(ACTIVE)
        )
    )
    if already:
        raise ReferralError(f"This case already has an open referral to {counsel.label}.")
    referral = Referral(case_id=case.id, counsel_id=counsel_id, created_by_id=viewer.id, status="draft")
    db.session.add(referral)
    db.session.commit()
    announce(
        "referral_created", actor=viewer.id, role=viewer.role, case_id=case.id, referral=referral.id, counsel=counsel_id
    )
    return referral


def send_referral(viewer: StaffUser, referral: Referral, *, now: datetime | None = None) -> None:
    """Check consent as it stands now, make and encrypt the packet, and tell counsel."""
    if viewer.role != COORDINATOR:
        raise ReferralError("Only a coordinator can send a referral.")
    if referral.status != "draft":
        raise ReferralError("Only a draft referral can be sent.")
    consent = current_consent(referral.case_id)
    if not consent["legal_referral"]:
        raise ReferralError("The reporter has not agreed to a legal referral.")
    counsel = {c.user.id: c for c in counsel_directory()}.get(referral.counsel_id)
    if counsel is None:
        raise ReferralError("That counsel can no longer receive referrals (no active account or no key).")
    case = db.session.get(Case, referral.case_id)
    if case is None:
        raise ReferralError("The report was deleted.")
    now = now or utcnow()
    identity = consent["identity_to_counsel"] and case.is_named
    document = packet.build_document(referral, case, consent=consent, identity=identity, now=now)
    sealed = packet.seal(counsel.profile.age_recipient, packet.packet_files(document))
    old_status = case.status
    pending: Pending = []
    # If the reporter withdrew consent while the packet was made, their withdrawal revoked
    # the draft and this changes nothing.
    if not _step(
        referral,
        "draft",
        "sent",
        actor=viewer,
        pending=pending,
        sent_at=now,
        identity_disclosed=identity,
        packet=sealed.data,
        packet_sha256=sealed.sha256,
    ):
        db.session.rollback()
        raise ReferralError(CHANGED)
    if old_status == "new" or "referred" in TRANSITIONS.get(old_status, ()):
        # A coordinator sending a referral has read the case: it is acknowledged, and referred.
        referred = db.session.execute(
            update(Case)
            .where(Case.id == case.id, Case.status == old_status)
            .values(
                status="referred",
                queue_rank=QUEUE_RANK["referred"],
                updated_at=now,
                acknowledged_at=case.acknowledged_at or now,
            )
        )
        if referred.rowcount:  # type: ignore[attr-defined]
            pending.append(
                (
                    "case_status_changed",
                    {
                        "actor": viewer.id,
                        "role": viewer.role,
                        "case_id": case.id,
                        "old": old_status,
                        "new": "referred",
                        "reason": None,
                    },
                )
            )
    notify_staff(counsel.user.id, "referral", case_id=None, key=f"referral:{referral.id}")
    db.session.commit()
    announce_pending(pending)
    log.info("referral %s sent (%d bytes)", referral.id, len(sealed.data))


def acknowledge_referral(counsel: StaffUser, referral: Referral) -> bool:
    """Counsel confirm they have the referral. False if it was not waiting for that."""
    pending: Pending = []
    if referral.status != "sent" or not _step(referral, "sent", "acknowledged", actor=counsel, pending=pending):
        db.session.rollback()
        return False
    db.session.commit()
    announce_pending(pending)
    return True


def decide_referral(counsel: StaffUser, referral: Referral, *, accept: bool, reason: str = "") -> None:
    """Counsel accept, or decline with a reason; the coordinators hear either way."""
    if not accept and reason not in DECLINE_REASONS:
        raise ReferralError("Choose why you are declining.")
    if referral.status not in ("sent", "acknowledged"):
        raise ReferralError(CHANGED)
    pending: Pending = []
    if referral.status == "sent" and not _step(referral, "sent", "acknowledged", actor=counsel, pending=pending):
        db.session.rollback()
        raise ReferralError(CHANGED)
    new = "accepted" if accept else "declined"
    if not _step(referral, "acknowledged", new, actor=counsel, pending=pending, reason=None if accept else reason):
        db.session.rollback()
        raise ReferralError(CHANGED)
    if not accept:
        _case_back_from_referred(referral.case_id, pending, None)
    notify_coordinators("referral_decided", case_id=referral.case_id, key=f"referral-decided:{referral.id}")
    db.session.commit()
    announce_pending(pending)


def close_referral(actor: StaffUser, referral: Referral) -> None:
    pending = _take(referral, "closed", actor=actor)
    db.session.commit()
    announce_pending(pending)


def revoke_referral(viewer: StaffUser, referral: Referral) -> None:
    if viewer.role != COORDINATOR:
        raise ReferralError("Only a coordinator can withdraw a referral.")
    was = referral.status
    pending = _take(referral, "revoked", actor=viewer, reason="coordinator")
    if was != "draft":
        notify_staff(referral.counsel_id, "referral_revoked", case_id=None, key=f"referral-revoked:{referral.id}")
    _case_back_from_referred(referral.case_id, pending, viewer)
    db.session.commit()
    announce_pending(pending)


def _revoke_all(referrals: Collection[Referral], reason: str, pending: Pending, actor: StaffUser | None) -> None:
    for referral in referrals:
        # A step racing this one (a send, a decision) may move it first: try from where it is now.
        for _attempt in range(3):
            status = db.session.scalar(select(Referral.status).where(Referral.id == referral.id))
            if status not in ACTIVE or _step(referral, status, "revoked", actor=actor, pending=pending, reason=reason):
                break
        else:
            raise ReferralError(CHANGED)
        if status in ACTIVE:
            if status != "draft":
                notify_staff(
                    referral.counsel_id, "referral_revoked", case_id=None, key=f"referral-revoked:{referral.id}"
                )
            notify_coordinators("referral_revoked", case_id=referral.case_id, key=f"referral-revoked:{referral.id}")


def revoke_for_consent(case_id: str, consent: dict[str, bool], withdrawn: Collection[str]) -> Pending:
    """In the reporter's consent transaction: revoke what the choices they just withdrew covered.

    Withdrawing consent to a legal referral revokes every open referral and deletes every
    packet; withdrawing identity, or a way of contact, does so for packets that name them.
    Not committed; returns the signals to send after the commit."""
    query = select(Referral).where(Referral.case_id == case_id)
    if "legal_referral" in withdrawn and not consent["legal_referral"]:
        reason = "consent_withdrawn"
    elif {"identity_to_counsel", *CONTACT_PURPOSES} & set(withdrawn):
        query = query.where(Referral.identity_disclosed.is_(True))
        reason = "identity_withdrawn"
    else:
        return []
    pending: Pending = []
    affected = list(db.session.scalars(query))
    _revoke_all([r for r in affected if r.status in ACTIVE], reason, pending, None)
    db.session.execute(update(Referral).where(Referral.id.in_([r.id for r in affected])).values(packet=None))
    if pending:
        _case_back_from_referred(case_id, pending, None)
        log.info("case %s: referrals revoked, consent withdrawn", case_id)
    return pending


def end_for_counsel(counsel: StaffUser, *, by: StaffUser) -> int:
    """A deactivated counsel keeps nothing open: their referrals are revoked, the packets
    deleted and the coordinators told, so each case can go to someone else."""
    referrals = list(
        db.session.scalars(select(Referral).where(Referral.counsel_id == counsel.id, Referral.status.in_(ACTIVE)))
    )
    pending: Pending = []
    _revoke_all(referrals, "counsel_removed", pending, by)
    for case_id in {r.case_id for r in referrals}:
        _case_back_from_referred(case_id, pending, by)
    db.session.commit()
    announce_pending(pending)
    return len(referrals)


def counsel_referral(counsel: StaffUser, referral_id: str) -> Referral:
    """One of this counsel's referrals; LookupError for anything else, which does not exist for them."""
    referral = db.session.get(Referral, referral_id) if len(referral_id) <= 36 else None
    if referral is None or referral.counsel_id != counsel.id or referral.sent_at is None:
        raise LookupError(referral_id)
    return referral


def counsel_referrals(counsel: StaffUser) -> list[Referral]:
    """Every referral ever sent to this counsel; never a draft, even a discarded one."""
    return list(
        db.session.scalars(
            select(Referral)
            .where(Referral.counsel_id == counsel.id, Referral.sent_at.is_not(None))
            .order_by(Referral.sent_at.desc())
        )
    )


def packet_for(viewer: StaffUser, referral: Referral) -> bytes:
    """The encrypted packet, for its counsel while consent stands, or for a coordinator."""
    if viewer.role == COUNSEL and referral.status not in OPEN_TO_COUNSEL:
        raise ReferralError("This referral was withdrawn or has ended; its packet no longer exists.")
    data = db.session.scalar(select(Referral.packet).where(Referral.id == referral.id))
    if data is None:
        raise ReferralError("This referral has no packet.")
    if viewer.role == COUNSEL:
        acknowledge_referral(viewer, referral)
    announce("packet_downloaded", actor=viewer.id, role=viewer.role, case_id=referral.case_id, referral=referral.id)
    return data


def reason_label(code: str | None) -> str:
    return REVOKE_REASONS.get(code or "", DECLINE_REASONS.get(code or "", code or ""))


@dataclass(frozen=True)
class ReporterReferral:
    """A referral as its reporter sees it: where it went and where it stands."""

    status: str
    firm: str
    sent_at: datetime


def reporter_referrals(case_id: str) -> list[ReporterReferral]:
    rows = db.session.execute(
        select(Referral.status, CounselProfile.firm, StaffUser.name, Referral.sent_at)
        .join(CounselProfile, CounselProfile.staff_id == Referral.counsel_id)
        .join(StaffUser, StaffUser.id == Referral.counsel_id)
        .where(Referral.case_id == case_id, Referral.sent_at.is_not(None))
        .order_by(Referral.sent_at)
    ).all()
    return [ReporterReferral(status, firm or name, sent_at) for status, firm, name, sent_at in rows if sent_at]
