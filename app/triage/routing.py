"""Routing a case. Jobs call these with an id; they never need a case's plaintext."""

from __future__ import annotations

import logging

from sqlalchemy import update

from app.cases.models import Case
from app.extensions import db
from app.models import utcnow

log = logging.getLogger("confide.triage")


def mark_awaiting_assignment(case_id: str) -> bool:
    """Move a case from intake to awaiting assignment. Idempotent: True only the first time."""
    result = db.session.execute(
        update(Case)
        .where(Case.id == case_id, Case.routing_state == "intake")
        .values(routing_state="awaiting_assignment", queued_at=utcnow())
    )
    db.session.commit()
    if result.rowcount:  # type: ignore[attr-defined]
        log.info("case %s awaiting assignment", case_id)
        return True
    return False
