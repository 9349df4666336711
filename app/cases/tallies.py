"""Counting each report's answers as it is filed: the raw material of the program's figures.

The answers sealed in a report (who did it, where, when) can be counted only while the report
is in memory at intake, or by an operator with the keyring (:func:`recount`). Counting the
clear ones here as well keeps every figure of a month in one place, consistent with the others,
and still right once cases are deleted under the retention policy.

Support requests are counted apart (kind ``support``), with the questions that make sense for
them. One that becomes an incident report is counted as a report then, in that month, as any
report is when it is filed; its count as a support request stays: it was one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select

from app.cases.consent import choice_of
from app.cases.models import Case, ConsentRecord, ReportTally
from app.config import current_settings
from app.extensions import db
from app.models import conflict_insert

# The questions counted, in the order the figures show them.
QUESTIONS = (
    "category",
    "level",
    "county",
    "language",
    "setting",
    "perpetrator",
    "when",
    "named",
    "peer_support",
    "legal_referral",
    "identity_to_counsel",
)
# The consent choices counted. The ways to reach her are not: the database keeps them only as
# keyed indexes, so that it does not tell which exist.
CONSENT_QUESTIONS = ("peer_support", "legal_referral", "identity_to_counsel")
# A support request asks only what is on her mind, her language, how to reach her and her choices.
SUPPORT_QUESTIONS = ("level", "language", "named", *CONSENT_QUESTIONS)
QUESTIONS_OF = {"report": QUESTIONS, "support": SUPPORT_QUESTIONS}
UNANSWERED = "unanswered"


def program_month(moment: datetime) -> str:
    """The month of ``moment`` in the program's time zone, as "2026-03"."""
    return moment.astimezone(ZoneInfo(current_settings().display_timezone)).strftime("%Y-%m")


def answers_of(
    *,
    category: str,
    level: int,
    county: str | None,
    language: str,
    named: bool,
    context: Mapping[str, str],
    consent: Mapping[str, bool],
) -> dict[str, str]:
    """One report's answer to each of QUESTIONS. ``context``: the report's perpetrator, setting
    and when (empty when not answered)."""
    answers = {
        "category": category,
        "level": f"L{level}",
        "county": county or UNANSWERED,
        "language": language,
        "named": "named" if named else "anonymous",
    }
    for question in ("setting", "perpetrator", "when"):
        answers[question] = context.get(question) or UNANSWERED
    for purpose in CONSENT_QUESTIONS:
        answers[purpose] = "yes" if consent.get(purpose) else "no"
    return answers


def count_report(month: str, answers: Mapping[str, str], *, kind: str = "report") -> None:
    """Add one report's (or, with ``kind`` support, one support request's) answers to its month's
    tallies, in the caller's transaction (one statement). Rows are written in key order, so two
    reports counted at once never deadlock."""
    _add(Counter({(month, kind, question, answers[question]): 1 for question in QUESTIONS_OF[kind]}))


def _add(counts: Mapping[tuple[str, str, str, str], int]) -> None:
    if not counts:
        return
    statement = conflict_insert(ReportTally, db.session.get_bind().dialect.name)
    statement = statement.on_conflict_do_update(
        index_elements=["month", "kind", "question", "answer"],
        set_={"count": ReportTally.count + statement.excluded.count},
    )
    rows = [
        {"month": month, "kind": kind, "question": question, "answer": answer, "count": n}
        for (month, kind, question, answer), n in sorted(counts.items())
    ]
    db.session.execute(statement, rows)


def recount(reports: Iterable[tuple[Case, Mapping[str, str]]], *, kind: str = "report") -> int:
    """Count again, from scratch, the tallies of ``kind`` from every case given with its
    opened context (for an operator with the keyring: ``flask insights recount``). Not
    committed; returns how many cases were counted.

    A report that began as a support request is counted in the month it became a report, with
    the choices in force then; a support request, in the month it was sent, at the level its
    case has now (a later report may have raised it)."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    consent = _consent_at_intake()
    reported = _consent_when_reported() if kind == "report" else {}
    questions = QUESTIONS_OF[kind]
    n = 0
    for case, context in reports:
        became = case.became_report_at if kind == "report" else None
        choices = reported.get(case.id, {}) if became is not None else consent.get(case.id, {})
        answers = answers_of(
            category=case.category,
            level=case.level,
            county=case.county,
            language=case.language,
            named=case.is_named,
            context=context,
            consent=choices,
        )
        month = program_month(became or case.created_at)
        for question in questions:
            counts[(month, kind, question, answers[question])] += 1
        n += 1
    db.session.execute(delete(ReportTally).where(ReportTally.kind == kind))
    _add(counts)
    return n


def _consent_at_intake() -> dict[str, dict[str, bool]]:
    """The choices each case's form made, as counted when it was filed."""
    rows = db.session.execute(
        select(ConsentRecord.case_id, ConsentRecord.purpose, ConsentRecord.granted).where(
            ConsentRecord.source == "intake",
            ConsentRecord.recipient == "",
            ConsentRecord.purpose.in_(CONSENT_QUESTIONS),
        )
    )
    choices: dict[str, dict[str, bool]] = {}
    for case_id, purpose, granted in rows:
        choices.setdefault(case_id, {})[purpose] = bool(granted)
    return choices


def _consent_when_reported() -> dict[str, dict[str, bool]]:
    """For each support request that became a report, the choices in force then (recorded to
    the minute): the newest record of each purpose no later than that."""
    rows = db.session.scalars(
        select(ConsentRecord)
        .join(Case, Case.id == ConsentRecord.case_id)
        .where(
            Case.became_report_at.is_not(None),
            ConsentRecord.recipient == "",
            ConsentRecord.purpose.in_(CONSENT_QUESTIONS),
            ConsentRecord.recorded_at <= Case.became_report_at,
        )
        .order_by(ConsentRecord.id)
    )
    choices: dict[str, dict[str, bool]] = {}
    for row in rows:
        choices.setdefault(row.case_id, {})[row.purpose] = choice_of(row)
    return choices
