"""The counsel directory: who can receive referrals, in which fields and languages, and the
age key their packets are encrypted to (checked when it is entered)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from app.access import COUNSEL
from app.extensions import db
from app.referrals import packet
from app.referrals.models import CounselProfile
from app.referrals.vocabulary import PRACTICE_AREAS
from app.signals import announce
from app.staff.models import StaffUser


class DirectoryError(Exception):
    """An entry that cannot be saved; the message says what to correct."""


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
    """Language tags from "en, es, zh-Hant"; DirectoryError names the first malformed one."""
    tags: list[str] = []
    for raw in text.replace(";", ",").replace(" ", ",").split(","):
        tag = raw.strip()
        if not tag:
            continue
        parts = tag.split("-")
        if not (2 <= len(parts[0]) <= 3 and parts[0].isascii() and parts[0].isalpha()) or not all(
            1 <= len(p) <= 8 and p.isascii() and p.isalnum() for p in parts[1:]
        ):
            raise DirectoryError(f"“{tag[:20]}” is not a language code (examples: en, es, zh, ko).")
        tag = "-".join([parts[0].lower(), *parts[1:]])
        if tag not in tags:
            tags.append(tag)
    if not tags:
        raise DirectoryError("Give at least one language, for example en.")
    return tags[:20]


def save_counsel_profile(
    user: StaffUser, *, by: StaffUser, firm: str, practice_areas: Sequence[str], languages: str, age_recipient: str
) -> CounselProfile:
    if user.role != COUNSEL:
        raise DirectoryError("Only counsel accounts have a counsel profile.")
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
