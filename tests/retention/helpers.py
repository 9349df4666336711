"""What the retention tests share: a closed case with a conversation, and the figures a
coordinator reads."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import select

from app.cases.conversation import add_message
from app.cases.models import Case, ReportTally
from app.cases.tallies import answer_reader
from app.extensions import db
from app.models import utcnow
from app.vocabulary import QUEUE_RANK
from tests.cases.test_queue import signed_in
from tests.factories import Staff, make_case

MARKER = "narrative-marker-retention gone for good"


def closed_case(*, ago: timedelta = timedelta(hours=3), reason: str = "resolved", **answers: object) -> Case:
    """A report filed ``ago``, acknowledged after an hour, answered, then closed, with a
    message each way."""
    case = make_case(narrative=MARKER, **answers)  # type: ignore[arg-type]
    add_message(case, f"{MARKER} from her", author="reporter")
    add_message(case, "We read it, thank you.", author="staff")
    now = utcnow()
    case.created_at = now - ago
    case.acknowledged_at = case.created_at + timedelta(hours=1)
    case.first_reply_at = case.created_at + timedelta(hours=2)
    case.status, case.queue_rank, case.closed_reason, case.closed_at = "closed", QUEUE_RANK["closed"], reason, now
    db.session.commit()
    return case


def figure_tables(app: Flask, coordinator: Staff) -> list[str]:
    """Every table on /insights as the coordinator sees it."""
    page = signed_in(app, coordinator).get("/insights")
    assert page.status_code == 200
    tables = re.findall(r'<table[^>]*id="table-[^"]*".*?</table>', page.get_data(as_text=True), re.S)
    assert len(tables) > 5
    return tables


def report_tallies() -> dict[tuple[str, str, str], int]:
    """The reports' counts, the sealed answers read back with the keyring."""
    read = answer_reader("report")
    return {
        (row.month, row.question, read(row.month, row.question, row.answer)): row.count
        for row in db.session.scalars(select(ReportTally).where(ReportTally.kind == "report"))
    }


def later(days: int) -> datetime:
    return utcnow() + timedelta(days=days)
