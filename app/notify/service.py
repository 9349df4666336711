"""Raising notifications. They are written to the outbox in the caller's transaction and
sent later, in batches (see app/notify/sending.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from sqlalchemy import select

from app.cases.exclusions import excluded_among
from app.extensions import db
from app.models import conflict_insert, minute_now
from app.notify.models import Notification
from app.staff.models import StaffUser


@dataclass(frozen=True)
class Notice:
    """One line of the outbox. ``dedupe_key`` makes it happen once, however often raised."""

    staff_id: str | None
    case_id: str | None
    kind: str
    dedupe_key: str
    urgent: bool = False
    recipient: str = "staff"
    # An account notice to an address other than the person's current one (see the model).
    address: str | None = None


def raise_notices(notices: Sequence[Notice]) -> None:
    """Write ``notices`` to the outbox in one statement, leaving out any raised before."""
    if not notices:
        return
    created = minute_now()
    insert = conflict_insert(Notification, db.session.get_bind().dialect.name)
    db.session.execute(
        insert.on_conflict_do_nothing(index_elements=["dedupe_key"]),
        [{**asdict(notice), "created_at": created} for notice in notices],
    )


def coordinator_ids(*, on_call_only: bool = False) -> list[str]:
    """Active, enrolled coordinators; ``on_call_only``: those on duty (all of them if none is)."""
    return coordinators_for([]).told(None, on_call_only=on_call_only)


@dataclass(frozen=True)
class Coordinators:
    """The active, enrolled coordinators and, for some cases, whom of them the reporter kept
    away: read once for a batch of cases, then asked case by case."""

    on_duty: dict[str, bool]
    excluded: dict[str, set[str]] = field(default_factory=dict)

    def kept_away(self, case_id: str | None) -> set[str]:
        """Those not to hear of ``case_id``: whom its reporter excluded. A reporter who
        excluded every coordinator still has them all told: nobody else can act on a case,
        and imminent danger must never go unheard (they are told that it exists, not what
        it holds, and still cannot open it)."""
        kept_away = self.excluded.get(case_id or "", set())
        return set() if self.on_duty.keys() <= kept_away else kept_away

    def told(self, case_id: str | None, *, on_call_only: bool = False) -> list[str]:
        """Who hears of ``case_id``; ``on_call_only``: those of them on duty (all of them if
        none is)."""
        kept_away = self.kept_away(case_id)
        told = [staff_id for staff_id in self.on_duty if staff_id not in kept_away]
        if on_call_only and any(self.on_duty[staff_id] for staff_id in told):
            told = [staff_id for staff_id in told if self.on_duty[staff_id]]
        return told


def coordinators_for(case_ids: Sequence[str]) -> Coordinators:
    """The coordinators, with whom the reporters of ``case_ids`` excluded: two queries
    however many cases."""
    rows = db.session.execute(
        select(StaffUser.id, StaffUser.on_duty)
        .where(StaffUser.role == "coordinator", StaffUser.active.is_(True), StaffUser.enrolled_at.is_not(None))
        .order_by(StaffUser.created_at, StaffUser.id)
    ).all()
    on_duty = {staff_id: bool(duty) for staff_id, duty in rows}
    return Coordinators(on_duty, excluded_among(case_ids, on_duty) if case_ids and on_duty else {})


def to_coordinators(
    coordinators: Sequence[str], kind: str, *, case_id: str | None, key: str, urgent: bool = False
) -> list[Notice]:
    """The notice ``key`` for each of ``coordinators``, each with a key of its own."""
    return [Notice(staff_id, case_id, kind, f"{key}:{staff_id}", urgent) for staff_id in coordinators]


def notify_staff(staff_id: str, kind: str, *, case_id: str | None, key: str, urgent: bool = False) -> None:
    """Tell one staff member that something needs them. ``key`` makes it happen once."""
    raise_notices([Notice(staff_id, case_id, kind, key, urgent)])


def notify_coordinators(
    kind: str, *, case_id: str | None, key: str, urgent: bool = False, on_call_only: bool = False
) -> None:
    """Tell the coordinators (not those the case's reporter excluded); ``on_call_only``
    reaches those on duty (all of them if none is)."""
    told = coordinators_for([case_id] if case_id else []).told(case_id, on_call_only=on_call_only)
    raise_notices(to_coordinators(told, kind, case_id=case_id, key=key, urgent=urgent))


def notify_holder(case_id: str, holder_id: str | None, kind: str, *, key: str, urgent: bool = False) -> list[str]:
    """Tell whoever has a case (``holder_id``) or, with nobody on it, the coordinators (not
    those its reporter excluded), in the caller's transaction. Returns who is told."""
    told = [holder_id] if holder_id else coordinators_for([case_id]).told(case_id)
    raise_notices(to_coordinators(told, kind, case_id=case_id, key=key, urgent=urgent))
    return told


def notify_reporter(case_id: str, kind: str, *, key: str) -> None:
    """A content-free note to a reporter who gave an email and agreed to be emailed."""
    raise_notices([Notice(None, case_id, kind, key, recipient="reporter")])
