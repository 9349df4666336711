"""A case's timeline: its audit entries, newest first, each said in plain English.

Only what the entries hold is used (ids, codes, counts), with colleagues' names looked up
in the staff directory; nothing of the report."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.staff.services import staff_directory
from app.triage.eligibility import nobody_because
from app.vocabulary import STATUS_NAMES


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    action: str
    who: str
    detail: dict[str, Any]
    # What happened, for people: "Routed to Ana (round 2)".
    text: str = ""


def timeline(case_id: str, *, language: str = "", category: str = "", limit: int = 50) -> list[TimelineEntry]:
    """The case's last ``limit`` audit entries, newest first; ``language`` and ``category``:
    the case's, for a routing round that found nobody who speaks it or is trained for it."""
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.case_id == case_id).order_by(AuditEntry.id.desc()).limit(limit)
    ).all()
    directory = staff_directory()

    def name(staff_id: object) -> str:
        person = directory.get(str(staff_id or ""))
        return person.label if person is not None else "a former colleague"

    return [
        TimelineEntry(
            at=e.at,
            action=e.action,
            who=name(e.actor_id) if e.actor_id else ("the system" if e.actor_role == "system" else e.actor_role),
            detail=e.detail,
            text=describe(e.action, e.actor_id, e.detail or {}, name, language, category),
        )
        for e in entries
    ]


def _told(detail: Mapping[str, Any], name: Callable[[object], str]) -> str:
    told = detail.get("notified") or []
    if not told:
        return ""
    if len(told) > 3:
        return f" Notice sent to {len(told)} people."
    return " Notice sent to " + ", ".join(name(staff_id) for staff_id in told) + "."


def describe(
    action: str,
    actor_id: str,
    detail: Mapping[str, Any],
    name: Callable[[object], str],
    language: str,
    category: str = "",
) -> str:
    """One entry in plain English (the actor is shown beside it)."""
    told = _told(detail, name)
    if action == "case_routed":
        number = detail.get("round")
        if detail.get("outcome") == "assigned":
            verb = "Offered again, now that they fit," if detail.get("again") else "Routed"
            return f"{verb} to {name(detail.get('staff'))} (round {number}).{told}"
        why = nobody_because(detail.get("reason"), language, category)
        return f"Nobody eligible (round {number}){': ' + why if why else ''}; left with the coordinators.{told}"
    if action == "case_escalated":
        return f"Deadline passed for {name(detail.get('staff'))} (round {detail.get('round')}): routed again.{told}"
    if action == "case_assigned":
        to, previous = detail.get("to"), detail.get("previous")
        text = "Took the case" if to == actor_id else f"Assigned the case to {name(to)}"
        if previous and previous != to:
            text += f", from {name(previous)}"
        return f"{text}.{told}"
    if action == "case_unassigned":
        why = {
            "peer_support_withdrawn": ": the reporter withdrew consent to peer support",
            "deactivated": ": their account was deactivated, so it is routed again",
            "not_trained": ": it became a report in a category they are not trained for, so it is routed again",
        }.get(str(detail.get("reason")), "")
        return f"The case left {name(detail.get('previous'))}{why}."
    if action == "message_sent":
        if detail.get("direction") == "from_reporter":
            what = "Added to the report" if detail.get("kind") == "information" else "Wrote a message"
            return f"{what}.{told}"
        return "Wrote to the reporter."
    if action == "case_became_report":
        now, before = detail.get("level"), detail.get("level_before")
        raised = f" Read again by triage: now L{now}, from L{before}." if now != before else ""
        kept = detail.get("untrained_holder")
        untrained = (
            f" {name(kept)} has no current training for this category: coordinators, decide who keeps it."
            if kept
            else ""
        )
        return f"Turned the support request into an incident report.{raised}{untrained}{told}"
    if action == "case_status_changed":
        new = STATUS_NAMES.get(str(detail.get("new")), str(detail.get("new")))
        return f"Status changed to {new}."
    fixed = {
        "case_viewed": "Opened the case.",
        "case_acknowledged": "Acknowledged the case.",
        "note_added": "Added an internal note.",
        "consent_changed": "Changed their choices.",
        "access_denied": "Was refused the case.",
    }
    if action in fixed:
        return fixed[action]
    if action == "case_flagged":
        return "Marked the case important." if detail.get("important") else "Took off the important mark."
    return ""  # shown the old way: the action, and its new state if any
