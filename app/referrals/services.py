"""Referring a case to counsel, within the consent the reporter gave.

Consent is checked when a referral is begun and again at the moment it is sent, which is when
the packet is made. Withdrawing consent revokes every referral it covered and deletes their
packets, so counsel can no longer download them. Every step is audited.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.cases.models import Case
from app.cases.vocabulary import QUEUE_RANK, TRANSITIONS
from app.extensions import db
from app.models import utcnow
from app.notify.service import notify_coordinators, notify_staff
from app.referrals import packet
from app.referrals.consent import current_consent
from app.referrals.models import CounselProfile, Referral
from app.referrals.vocabulary import ACTIVE, DECLINE_REASONS, OPEN_TO_COUNSEL, PRACTICE_AREAS, REVOKE_REASONS, STEPS
from app.security import COORDINATOR, COUNSEL
from app.signals import announce
from app.staff.models import StaffUser

log = logging.getLogger("confide.referrals")


class ReferralError(Exception):
    """A step that cannot be taken; the message says why, for the person who tried."""


@dataclass(frozen=True)
class Counsel:
    user: StaffUser
    profile: CounselProfile

    @property
    def label(self) -> str:
        firm = f", {self.profile.firm}" if self.profile.firm else ""
        return f"{self.user.display_name}{firm}"


def counsel_profile(user: StaffUser) -> CounselProfile:
    """The counsel's profile, created empty the first time it is asked for."""
    profile = db.session.get(CounselProfile, user.id)
    if profile is None:
        profile = CounselProfile(staff_id=user.id, firm="", practice_areas=[], languages=["en"], age_recipient="")
        db.session.add(profile)
    return profile


def clean_languages(text: str) -> list[str]:
    """Language tags from "en, es, zh-Hant"; ReferralError names the first malformed one."""
    tags: list[str] = []
    for raw in text.replace(";", ",").replace(" ", ",").split(","):
        tag = raw.strip()
        if not tag:
            continue
        parts = tag.split("-")
        if not (2 <= len(parts[0]) <= 3 and parts[0].isascii() and parts[0].isalpha()) or not all(
            1 <= len(p) <= 8 and p.isascii() and p.isalnum() for p in parts[1:]
        ):
            raise ReferralError(f"“{tag[:20]}” is not a language code (examples: en, es, zh, ko).")
        tag = "-".join([parts[0].lower(), *parts[1:]])
        if tag not in tags:
            tags.append(tag)
    if not tags:
        raise ReferralError("Give at least one language, for example en.")
    return tags[:20]


def save_counsel_profile(
    user: StaffUser, *, by: StaffUser, firm: str, practice_areas: Sequence[str], languages: str, age_recipient: str
) -> CounselProfile:
    if user.role != COUNSEL:
        raise ReferralError("Only counsel accounts have a counsel profile.")
    recipient = age_recipient.strip()
    packet.parse_recipient(recipient)  # raises PacketError with a message for the coordinator
    profile = counsel_profile(user)
    changed_key = profile.age_recipient != recipient
    profile.firm = firm.strip()
    profile.practice_areas = [a for a in PRACTICE_AREAS if a in set(practice_areas)]
    profile.languages = clean_languages(languages)
    profile.age_recipient = recipient
    db.session.commit()
    announce("counsel_profile_changed", actor=by.id, role=by.role, staff=user.id, key_changed=changed_key)
    return profile


def counsel_directory() -> list[Counsel]:
    """Active, enrolled counsel with a key to encrypt to, by name."""
    rows = db.session.execute(
        select(StaffUser, CounselProfile)
        .join(CounselProfile, CounselProfile.staff_id == StaffUser.id)
        .where(
            StaffUser.role == COUNSEL,
            StaffUser.active.is_(True),
            StaffUser.enrolled_at.is_not(None),
            CounselProfile.age_recipient != "",
        )
        .order_by(StaffUser.name, StaffUser.email)
    ).all()
    return [Counsel(user, profile) for user, profile in rows]


def referrals_for_case(case_id: str) -> list[Referral]:
    return list(db.session.scalars(select(Referral).where(Referral.case_id == case_id).order_by(Referral.created_at)))


def _move(referral: Referral, new: str, *, actor: StaffUser | None, reason: str | None = None) -> None:
    """Take one step, audited after the commit. ``actor`` None is the reporter's own choice."""
    old = referral.status
    if new not in STEPS[old]:
        raise ReferralError(f"A referral that is {old} cannot become {new}.")
    now = utcnow()
    referral.status = new
    if new == "acknowledged":
        referral.acknowledged_at = now
    elif new in ("accepted", "declined"):
        referral.decided_at = now
    elif new in ("closed", "revoked"):
        referral.ended_at = now
    if reason is not None:
        referral.reason = reason
    if new == "revoked":
        referral.packet = None
    db.session.commit()
    announce(
        "referral_status_changed",
        actor=actor.id if actor else "",
        role=actor.role if actor else "reporter",
        case_id=referral.case_id,
        referral=referral.id,
        old=old,
        new=new,
        reason=reason,
    )


def create_referral(viewer: StaffUser, case: Case, counsel_id: str) -> Referral:
    if viewer.role != COORDINATOR:
        raise ReferralError("Only a coordinator can refer a case to counsel.")
    if not current_consent(case.id)["legal_referral"]:
        raise ReferralError("The reporter has not agreed to a legal referral.")
    counsel = {c.user.id: c for c in counsel_directory()}.get(counsel_id)
    if counsel is None:
        raise ReferralError("Choose counsel from the directory.")
    already = db.session.scalar(
        select(Referral.id).where(Referral.case_id == case.id, Referral.counsel_id == counsel_id, Referral.status.in_(ACTIVE))
    )
    if already:
        raise ReferralError(f"This case already has an open referral to {counsel.label}.")
    referral = Referral(case_id=case.id, counsel_id=counsel_id, created_by_id=viewer.id, status="draft")
    db.session.add(referral)
    db.session.commit()
    announce("referral_created", actor=viewer.id, role=viewer.role, case_id=case.id, referral=referral.id, counsel=counsel_id)
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
    assert case is not None
    now = now or utcnow()
    referral.identity_disclosed = consent["identity_to_counsel"] and case.is_named
    referral.sent_at = now
    document = packet.build_document(referral, case, consent=consent, now=now)
    sealed = packet.seal(counsel.profile.age_recipient, packet.packet_files(document))
    referral.packet, referral.packet_sha256 = sealed.data, sealed.sha256
    if case.status == "new" or "referred" in TRANSITIONS.get(case.status, ()):
        # A coordinator sending a referral has read the case: it is acknowledged, and referred.
        old_status = case.status
        case.status, case.queue_rank = "referred", QUEUE_RANK["referred"]
        case.acknowledged_at = case.acknowledged_at or now
        case.updated_at = now
        announce_status = True
    else:
        announce_status = False
    notify_staff(counsel.user.id, "referral", case_id=None, key=f"referral:{referral.id}")
    _move(referral, "sent", actor=viewer)
    if announce_status:
        announce("case_status_changed", actor=viewer.id, role=viewer.role, case_id=case.id, old=old_status, new="referred", reason=None)
    log.info("referral %s sent (%d bytes)", referral.id, len(sealed.data))


def acknowledge_referral(counsel: StaffUser, referral: Referral) -> None:
    if referral.status == "sent":
        _move(referral, "acknowledged", actor=counsel)


def decide_referral(counsel: StaffUser, referral: Referral, *, accept: bool, reason: str = "") -> None:
    """Counsel accept, or decline with a reason; the coordinators hear either way."""
    if referral.status == "sent":
        _move(referral, "acknowledged", actor=counsel)
    if not accept and reason not in DECLINE_REASONS:
        raise ReferralError("Choose why you are declining.")
    notify_coordinators("referral_decided", case_id=referral.case_id, key=f"referral-decided:{referral.id}")
    _move(referral, "accepted" if accept else "declined", actor=counsel, reason=None if accept else reason)


def close_referral(actor: StaffUser, referral: Referral) -> None:
    _move(referral, "closed", actor=actor)


def revoke_referral(viewer: StaffUser, referral: Referral) -> None:
    if viewer.role != COORDINATOR:
        raise ReferralError("Only a coordinator can withdraw a referral.")
    if referral.status != "draft":
        notify_staff(referral.counsel_id, "referral_revoked", case_id=None, key=f"referral-revoked:{referral.id}")
    _move(referral, "revoked", actor=viewer, reason="coordinator")


def revoke_for_consent(case_id: str, consent: dict[str, bool]) -> list[str]:
    """After the reporter changed their choices: revoke what no longer has consent.

    Withdrawing consent to a legal referral revokes every active referral; withdrawing consent
    to disclose identity revokes those whose packet names the reporter. Returns their ids."""
    query = select(Referral).where(Referral.case_id == case_id, Referral.status.in_(ACTIVE))
    if consent["legal_referral"]:
        if consent["identity_to_counsel"]:
            return []
        query = query.where(Referral.identity_disclosed.is_(True))
        reason = "identity_withdrawn"
    else:
        reason = "consent_withdrawn"
    revoked = []
    for referral in db.session.scalars(query).all():
        if referral.status != "draft":
            notify_staff(referral.counsel_id, "referral_revoked", case_id=None, key=f"referral-revoked:{referral.id}")
        notify_coordinators("referral_revoked", case_id=case_id, key=f"referral-revoked:{referral.id}")
        _move(referral, "revoked", actor=None, reason=reason)
        revoked.append(referral.id)
    if revoked:
        log.info("case %s: %d referral(s) revoked, consent withdrawn", case_id, len(revoked))
    return revoked


def counsel_referral(counsel: StaffUser, referral_id: str) -> Referral:
    """One of this counsel's referrals; LookupError for anything else, which does not exist for them."""
    referral = db.session.get(Referral, referral_id)
    if referral is None or referral.counsel_id != counsel.id or referral.status == "draft":
        raise LookupError(referral_id)
    return referral


def counsel_referrals(counsel: StaffUser) -> list[Referral]:
    return list(
        db.session.scalars(
            select(Referral)
            .where(Referral.counsel_id == counsel.id, Referral.status != "draft")
            .order_by(Referral.sent_at.desc())
        )
    )


def packet_for(viewer: StaffUser, referral: Referral) -> bytes:
    """The encrypted packet, for its counsel while consent stands, or for a coordinator."""
    if viewer.role == COUNSEL and referral.status not in OPEN_TO_COUNSEL:
        raise ReferralError("This referral was withdrawn; its packet no longer exists.")
    data = db.session.scalar(select(Referral.packet).where(Referral.id == referral.id))
    if data is None:
        raise ReferralError("This referral has no packet.")
    if viewer.role == COUNSEL:
        acknowledge_referral(viewer, referral)
    announce("packet_downloaded", actor=viewer.id, role=viewer.role, case_id=referral.case_id, referral=referral.id)
    return data


def revoke_reason_label(code: str | None) -> str:
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
    return [ReporterReferral(status, firm or name, sent_at) for status, firm, name, sent_at in rows]
