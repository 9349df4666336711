"""The conversation between a reporter and staff, sealed under the case's key."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from app.cases.models import Case, Message
from app.cases.sealing import case_key, open_json, seal_json
from app.extensions import db
from app.keystore import current_keyring
from app.models import minute_now, new_id, utcnow

log = logging.getLogger("confide.cases")


@dataclass(frozen=True)
class ThreadMessage:
    author: str
    kind: str
    created_at: datetime
    body: str
    # The staff pseudonym (for reporters) or name (for staff); empty for the reporter.
    author_name: str = ""


def open_case_key(case: Case) -> bytes:
    return case_key(current_keyring(case.dek_key_id), case)


def add_message(case: Case, body: str, *, author: str, kind: str = "message", author_id: str | None = None) -> str:
    """Seal and store one message; returns its id. Commits."""
    dek = open_case_key(case)
    # Writing the case's row first holds it until the commit: two messages added at once
    # are numbered one after the other.
    # What the reporter writes is unread until whoever has the case opens it.
    unread = {"reporter_unread": True} if author == "reporter" else {}
    db.session.execute(update(Case).where(Case.id == case.id).values(updated_at=minute_now(), **unread))
    number = (db.session.scalar(select(func.max(Message.number)).where(Message.case_id == case.id)) or 0) + 1
    message = Message(id=new_id(), case_id=case.id, author=author, kind=kind, author_id=author_id, number=number)
    message.body_sealed = seal_json(dek, body, record="message", record_id=message.id, field="body")
    db.session.add(message)
    if author == "staff":
        case.feedback_stage = "answered"
        if case.first_reply_at is None:
            case.first_reply_at = utcnow()
    db.session.commit()
    log.info("case %s: %s added by %s", case.id, kind, author)
    return message.id


def read_thread(case: Case, dek: bytes, *, for_reporter: bool) -> list[ThreadMessage]:
    from app.staff.services import staff_directory

    names: dict[str, str] = {}
    directory = staff_directory() if any(m.author_id for m in case.messages) else {}
    for staff in directory.values():
        names[staff.id] = (staff.pseudonym or "") if for_reporter else staff.label
    return [
        ThreadMessage(
            author=m.author,
            kind=m.kind,
            created_at=m.created_at,
            body=open_json(dek, m.body_sealed, record="message", record_id=m.id, field="body"),
            author_name=names.get(m.author_id or "", ""),
        )
        for m in case.messages
    ]
