"""Breaks: a staff member steps off duty in one press ("I need a break"), with or without a
time to come back. When that time comes the periodic sweep (workers/jobs.py
``sweep_and_escalate``, every 20 seconds) puts them back on duty, and routing offers them the
cases that wait for someone (``staff_break_ended`` is one of the changes that may let
someone take a waiting case, app/triage/__init__.py).

The return time is a column of the account (``StaffUser.break_until``), not a timer in
Redis: a break ends on time whatever process died or restarted meanwhile. Turning duty back
on by hand ends a break. Nobody deactivated, or waiting to set up their sign-in again, is
put back on duty: their break is forgotten (app/staff/lifecycle.py clears it, and the sweep
checks again)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from app.extensions import db
from app.models import utcnow
from app.signals import announce
from app.staff.lifecycle import can_sign_in, lock_account
from app.staff.models import StaffUser
from app.staff.services import StaffError

# How soon, at the latest, someone may ask to be back: a break is not a way to leave the team.
LONGEST = timedelta(days=14)
# "Until tomorrow morning": 9 am in the program's time zone.
MORNING = time(9)
OPEN = "open"  # until they turn duty back on themselves
HOURS = {"1h": 1, "2h": 2}
AT_MORNING = "morning"
AT_TYPED = "at"


def next_morning(now: datetime, zone: ZoneInfo) -> datetime:
    """The next 9 am in ``zone`` after ``now``: tonight's break ends tomorrow morning, and one
    taken at 2 am ends this morning."""
    local = now.astimezone(zone)
    morning = datetime.combine(local.date(), MORNING, tzinfo=zone)
    if morning <= local:
        morning = datetime.combine(local.date() + timedelta(days=1), MORNING, tzinfo=zone)
    return morning


def break_choices(now: datetime, zone: ZoneInfo) -> list[tuple[str, str]]:
    """The return times offered, as (code, words), the one that needs nothing else first."""
    morning = next_morning(now, zone)
    day = "today" if morning.date() == now.astimezone(zone).date() else "tomorrow"
    return [
        (OPEN, "Until I turn duty back on"),
        ("1h", "For 1 hour"),
        ("2h", "For 2 hours"),
        (AT_MORNING, f"Until 9 am {day} ({morning:%a} {morning.day} {morning:%b})"),
        (AT_TYPED, "Until a time I choose (below)"),
    ]


def return_time(choice: str, *, now: datetime, zone: ZoneInfo, typed: datetime | None = None) -> datetime | None:
    """When a break chosen as ``choice`` ends (UTC), or None for one with no return time.
    ``typed`` is a wall-clock time in ``zone``. A time past, or too far off, is refused
    (:class:`StaffError`, in words for the person)."""
    if choice == OPEN:
        return None
    if choice in HOURS:
        until = now + timedelta(hours=HOURS[choice])
    elif choice == AT_MORNING:
        until = next_morning(now, zone)
    elif choice == AT_TYPED:
        if typed is None:
            raise StaffError("Enter the date and time you want to be back on duty.")
        until = typed.replace(tzinfo=zone)
    else:
        raise StaffError("Choose when you want to be back on duty.")
    until = until.astimezone(now.tzinfo).replace(second=0, microsecond=0)
    if until <= now:
        raise StaffError("That time has passed. Choose a time still to come.")
    if until - now > LONGEST:
        raise StaffError("A break can last 14 days at most. For longer, ask a coordinator.")
    return until


def take_break(user: StaffUser, *, until: datetime | None) -> None:
    """``user`` steps off duty now, until ``until`` (None: until they turn duty back on).
    No case is routed to them meanwhile; what they already hold stays theirs."""
    lock_account(user)
    if not user.active:
        db.session.rollback()
        raise StaffError("This account is deactivated.")
    was_on_duty = user.on_duty
    user.on_duty = False
    user.break_until = until
    db.session.commit()
    announce(
        "staff_break_started",
        actor=user.id,
        role=user.role,
        staff=user.id,
        until=until.isoformat() if until else None,
        was_on_duty=was_on_duty,
    )


def end_break(user: StaffUser) -> bool:
    """``user`` is back, by their own hand: on duty again, any return time forgotten.
    Returns whether they are on duty (not when they cannot sign in)."""
    lock_account(user)
    was_off = not user.on_duty
    user.break_until = None
    user.on_duty = user.active and user.enrolled and user.enrolled_at is not None
    db.session.commit()
    if user.on_duty and was_off:  # a button pressed twice is back once
        announce("staff_break_ended", actor=user.id, role=user.role, staff=user.id, how="by_hand")
    return user.on_duty


def end_due_breaks(now: datetime | None = None) -> list[str]:
    """Put back on duty everyone whose break's return time has come (the periodic sweep);
    returns their ids. Each is announced once, whichever sweep got there first: the UPDATE
    is conditional on the break still being there. Someone who can no longer sign in stays
    off duty, and their break is forgotten."""
    now = now or utcnow()
    due = StaffUser.break_until.is_not(None), StaffUser.break_until <= now
    # Most of the time nobody is due: a read, and no write lock taken (SQLite: the database's).
    if db.session.scalar(select(StaffUser.id).where(*due).limit(1)) is None:
        db.session.rollback()
        return []
    back = list(
        db.session.scalars(
            update(StaffUser)
            .where(*due, can_sign_in(), StaffUser.enrolled_at.is_not(None))
            .values(on_duty=True, break_until=None)
            .returning(StaffUser.id)
        )
    )
    db.session.execute(update(StaffUser).where(*due).values(break_until=None))
    db.session.commit()
    for staff_id in back:
        announce("staff_break_ended", actor="", role="system", staff=staff_id, how="time")
    return back
