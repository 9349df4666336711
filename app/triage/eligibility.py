"""Who may take a case: the eligibility rules of routing, read from metadata only.

Eligible: an active, enrolled responder, on duty, trained for the case's category with a
record that has not expired, speaking the case's language, under their caseload cap, and
not excluded (by the reporter, or for having let this case's deadline pass).
Best: least loaded, then longest since their last assignment. With
``wellbeing.prefer_fewer_severe``, a severe case (L0, L1) goes first to whoever was given the
fewest severe cases in the last 7 days (app/triage/severe.py); L2 and L3 cases are routed as
always, so that a responder spared severe cases still takes routine ones and the others are
not given everything.

A support request (category ``support``, app/vocabulary.py) asks for a trained peer to talk
with, not for a category's course: any current training record qualifies a responder for it.
No training record names ``support``, so a course of its own is never needed, and one whose
training has all expired is not offered one.

The same rules, one at a time, say why someone may not take a case (:func:`why_not`, for the
reassign list) and why nobody could (:func:`why_nobody`, stored on a routing round).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from babel import Locale
from babel.core import UnknownLocaleError
from sqlalchemy import and_, func, select

from app.cases.models import Case
from app.config import current_settings
from app.extensions import db
from app.staff.models import StaffUser, Training
from app.triage.severe import recent_severe_counts
from app.vocabulary import SUPPORT

# Statuses that count against a responder's caseload cap.
OPEN_RANKS = (0, 1)
NEVER = datetime.min
ANY_CATEGORY = "all"


def trained_for(category: str, categories: Collection[str]) -> bool:
    """Whether current training records of ``categories`` qualify someone for a case of
    ``category``: one for it or for all; for a support request, any record at all."""
    if category == SUPPORT:
        return bool(categories)
    return category in categories or ANY_CATEGORY in categories


def open_caseload(staff_ids: Collection[str]) -> dict[str, int]:
    """Open cases (waiting or in hand) assigned to each of ``staff_ids``."""
    if not staff_ids:
        return {}
    rows = db.session.execute(
        select(Case.assigned_to_id, func.count())
        .where(Case.assigned_to_id.in_(staff_ids), Case.queue_rank.in_(OPEN_RANKS))
        .group_by(Case.assigned_to_id)
    ).all()
    return {staff_id: count for staff_id, count in rows if staff_id is not None}


@dataclass
class Responder:
    """What routing needs to know of one responder; ``load`` and ``since`` change as the
    pool hands out cases."""

    id: str
    languages: frozenset[str]
    categories: set[str]
    cap: int
    load: int
    # When they were last given a case, and the order of that within this pool's
    # decisions (all of which happen at one "now").
    since: tuple[datetime, int]
    # Severe cases given to them in the last 7 days; counted only when routing prefers fewer.
    severe: int = 0

    def may_take(self, language: str, category: str, excluded: Collection[str]) -> bool:
        return (
            self.load < self.cap
            and language in self.languages
            and trained_for(category, self.categories)
            and self.id not in excluded
        )


class Pool:
    """The responders who may take some case of a routing transaction.

    Made by :func:`lock_pool`, which holds their rows until the transaction ends, so the
    caseloads counted here stay true until the assignments are committed."""

    def __init__(self, responders: Iterable[Responder], now: datetime, *, prefer_fewer_severe: bool = False) -> None:
        self.responders = list(responders)
        self._now = now.replace(tzinfo=None)
        self._decisions = 0
        self._prefer_fewer_severe = prefer_fewer_severe

    def choose(self, language: str, category: str, excluded: Collection[str], *, severe: bool = False) -> str | None:
        """The best responder for a case (``severe``: an L0 or L1 one), counted as having
        taken it; None if nobody may."""
        first = self._prefer_fewer_severe and severe

        def rank(responder: Responder) -> tuple[int, int, tuple[datetime, int], str]:
            return (responder.severe if first else 0, responder.load, responder.since, responder.id)

        best: Responder | None = None
        for responder in self.responders:
            if responder.may_take(language, category, excluded) and (best is None or rank(responder) < rank(best)):
                best = responder
        if best is None:
            return None
        self._decisions += 1
        best.load += 1
        best.since = (self._now, self._decisions)
        best.severe += severe
        return best.id


def lock_pool(categories: Collection[str], *, today: date, now: datetime) -> Pool:
    """Every responder who may take a case in one of ``categories`` today, but for
    language, exclusions and caseload, which :meth:`Pool.choose` checks case by case.

    On PostgreSQL their rows are locked (in id order, so two routing transactions never
    deadlock; cases are always locked before responders) before their open cases are
    counted: another transaction that would give them a case waits until this one has
    committed its own. (SQLite: the caller holds
    the database's write lock, see routing.py.)"""
    # A support request takes anyone with current training, whatever its category.
    wanted = [] if SUPPORT in categories else [Training.category.in_({*categories, ANY_CATEGORY})]
    rows = db.session.execute(
        select(StaffUser.id, StaffUser.languages, StaffUser.caseload_cap, StaffUser.last_assigned_at, Training.category)
        .join(Training, Training.staff_id == StaffUser.id)
        .where(
            StaffUser.role == "responder",
            StaffUser.active.is_(True),
            StaffUser.on_duty.is_(True),
            StaffUser.enrolled_at.is_not(None),
            *wanted,
            Training.expires_on >= today,
        )
        .order_by(StaffUser.id)
        # FOR NO KEY UPDATE: it waits for another routing transaction or a change to the
        # person, but not for rows that merely point at them (a report's exclusions).
        .with_for_update(of=StaffUser, key_share=True)
    ).all()
    people: dict[str, Responder] = {}
    for staff_id, languages, cap, last, category in rows:
        responder = people.get(staff_id)
        if responder is None:
            since = (last.replace(tzinfo=None) if last else NEVER, 0)
            responder = people[staff_id] = Responder(staff_id, frozenset(languages or ()), set(), cap, 0, since)
        responder.categories.add(category)
    for staff_id, load in open_caseload(list(people)).items():
        people[staff_id].load = load
    prefer = current_settings().wellbeing.prefer_fewer_severe
    if prefer:
        for staff_id, count in recent_severe_counts(list(people), now=now).items():
            people[staff_id].severe = count
    return Pool(people.values(), now, prefer_fewer_severe=prefer)


# The rules in the order they are walked: the first that no one passes is why nobody could
# take a case. (Exclusions last: "all excluded" only when someone would otherwise fit.)
RULES = ("off_duty", "language", "training", "cap", "excluded")

# Why a routing round found nobody, as staff pages say it ({language}: the case's language).
NOBODY_BECAUSE = {
    "no_consent": "the reporter has not agreed that a peer responder reads the report",
    "no_responders": "there is no active responder",
    "off_duty": "no responder is on duty",
    "language": "no responder on duty speaks {language}",
    "training": "no responder on duty who speaks {language} has current training for this category",
    # The same rule, for a support request: any current training would do.
    "training_any": "no responder on duty who speaks {language} has any current training",
    "cap": "everyone who fits is at their caseload cap",
    "excluded": "everyone who fits is excluded (by the reporter, or for letting a deadline pass)",
}


def language_name(code: str) -> str:
    """A language's English name, for staff pages: "Korean" for ko."""
    try:
        return Locale.parse(code, sep="-").get_display_name("en") or code
    except (ValueError, UnknownLocaleError):
        return code


def nobody_because(reason: str | None, language: str, category: str = "") -> str:
    """Why nobody was eligible, in plain English; empty for an unknown or missing reason.
    ``category``: the case's, since a support request asks for no category's training."""
    if reason == "training" and category == SUPPORT:
        reason = "training_any"
    words = NOBODY_BECAUSE.get(reason or "", "")
    return words.format(language=language_name(language))


@dataclass(frozen=True)
class Candidate:
    """An active, enrolled staff member as the eligibility rules see them, fit or not."""

    id: str
    role: str
    on_duty: bool
    languages: frozenset[str]
    # Categories of the training records not expired; ANY_CATEGORY covers all.
    categories: frozenset[str]
    cap: int
    load: int

    def fails(self, rule: str, language: str, category: str, excluded: Collection[str]) -> bool:
        if rule == "off_duty":
            return not self.on_duty
        if rule == "language":
            return language not in self.languages
        if rule == "training":
            return not trained_for(category, self.categories)
        if rule == "cap":
            return self.load >= self.cap
        return self.id in excluded


def why_not(candidate: Candidate, language: str, category: str, excluded: Collection[str] = ()) -> str | None:
    """The first rule a responder fails for a case (a code of RULES), or None if they may take it."""
    return next((rule for rule in RULES if candidate.fails(rule, language, category, excluded)), None)


def why_nobody(
    candidates: Iterable[Candidate], language: str, category: str, excluded: Collection[str], *, peer_support: bool
) -> str | None:
    """Why no responder may take a case: the first rule that leaves no one (a code of
    NOBODY_BECAUSE), or None if someone may."""
    if not peer_support:
        return "no_consent"
    left = [c for c in candidates if c.role == "responder"]
    if not left:
        return "no_responders"
    for rule in RULES:
        left = [c for c in left if not c.fails(rule, language, category, excluded)]
        if not left:
            return rule
    return None


def roster(
    *, today: date, roles: Sequence[str] = ("responder",), loads: Mapping[str, int] | None = None
) -> list[Candidate]:
    """Every active, enrolled staff member of ``roles``, with what the rules ask of them: one
    query, and one more for the caseloads (``loads`` gives some already counted)."""
    rows = db.session.execute(
        select(
            StaffUser.id,
            StaffUser.role,
            StaffUser.on_duty,
            StaffUser.languages,
            StaffUser.caseload_cap,
            Training.category,
        )
        .outerjoin(Training, and_(Training.staff_id == StaffUser.id, Training.expires_on >= today))
        .where(StaffUser.role.in_(roles), StaffUser.active.is_(True), StaffUser.enrolled_at.is_not(None))
        .order_by(StaffUser.id)
    ).all()
    people: dict[str, tuple[str, bool, frozenset[str], int, set[str]]] = {}
    for staff_id, role, on_duty, languages, cap, category in rows:
        person = people.setdefault(staff_id, (role, bool(on_duty), frozenset(languages or ()), cap, set()))
        if category is not None:
            person[4].add(category)
    known = dict(loads or {})
    counted = open_caseload([staff_id for staff_id in people if staff_id not in known])
    return [
        Candidate(
            staff_id,
            role,
            on_duty,
            languages,
            frozenset(categories),
            cap,
            known.get(staff_id, counted.get(staff_id, 0)),
        )
        for staff_id, (role, on_duty, languages, cap, categories) in people.items()
    ]
