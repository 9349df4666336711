"""The load on the people who take cases: open cases (as routing counts them), severe cases
(L0, L1) given to them in the last 7 days, and how long since the last one. Each person sees
their own; the coordinators see everyone's, and are prompted to check in with someone who has
had more severe cases in a week than ``wellbeing.severe_week_limit``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.access import COORDINATOR, RESPONDER
from app.config import current_settings
from app.extensions import db
from app.staff.models import StaffUser
from app.triage.eligibility import open_caseload
from app.triage.severe import Severe, severe_history


@dataclass(frozen=True)
class Load:
    person: StaffUser
    open_cases: int
    severe: Severe

    @property
    def over_limit(self) -> bool:
        return self.severe.recent > current_settings().wellbeing.severe_week_limit


def loads_of(people: Sequence[StaffUser], *, now: datetime) -> list[Load]:
    """Each person's load: two grouped queries, whatever the number of people."""
    ids = [person.id for person in people]
    open_cases = open_caseload(ids)
    severe = severe_history(ids, now=now)
    return [Load(person, open_cases.get(person.id, 0), severe[person.id]) for person in people]


def team_load(*, now: datetime) -> list[Load]:
    """Every active responder's load, and that of each coordinator who takes cases (holds an
    open one, or was given a severe one lately); the most severe cases first."""
    people = db.session.scalars(
        select(StaffUser).where(StaffUser.active.is_(True), StaffUser.role.in_((RESPONDER, COORDINATOR)))
    ).all()
    loads = [
        load
        for load in loads_of(people, now=now)
        if load.person.role == RESPONDER or load.open_cases or load.severe.recent
    ]
    return sorted(loads, key=lambda load: (-load.severe.recent, -load.open_cases, load.person.display_name.lower()))


def since_words(last: datetime | None, now: datetime) -> str:
    """How long since ``last``, in hours up to two days and in days beyond: "5 hours"."""
    if last is None:
        return "none yet"
    hours = int((now - last).total_seconds() // 3600)
    if hours < 1:
        return "less than an hour"
    if hours < 48:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{hours // 24} days"


def check_in_prompt(load: Load) -> str:
    """What the coordinators are told of someone over the weekly limit."""
    return (
        f"{load.person.display_name} has had {load.severe.recent} severe cases in 7 days. "
        "Consider a check-in, or routing fewer severe cases to them."
    )


def over_limit(loads: Sequence[Load]) -> list[Load]:
    return [load for load in loads if load.over_limit]
