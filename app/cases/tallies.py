"""Counting each report's answers as it is filed: the raw material of the program's figures.

The answers sealed in a report (who did it, where, when) can be counted only while the report
is in memory at intake, or by an operator with the keyring (:func:`recount`). Counting the
clear ones here as well keeps every figure of a month in one place, consistent with the others,
and still right once cases are deleted under the retention policy.

Support requests are counted apart (kind ``support``), with the questions that make sense for
them. One that becomes an incident report is counted as a report then, in that month, as any
report is when it is filed; its count as a support request stays: it was one.

What a copy of the database shows, per month: for each clear question (category, level,
county, language, named, consent), each answer given and how many reports gave it, as the cases
table shows them (and goes on showing once the cases are deleted); for each sealed question,
how many different answers the month's reports gave and how many reports gave each, not which
answer. A sealed answer is stored as a keyed index of its month, kind, question and answer
(:func:`stored_answer`); the index differs from month to month, so an answer cannot be followed
across months either: the one report of a quiet month cannot be matched with the answer most
reports give in the others.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Select, delete, select, text

from app.cases.conversation import open_case_key
from app.cases.models import Case, ConsentRecord, ReportTally
from app.cases.sealing import open_json
from app.config import current_settings
from app.crypto.blind_index import blind_indexer
from app.extensions import db
from app.keystore import current_keyring
from app.models import conflict_insert, take_write_lock
from app.vocabulary import PERPETRATORS, SETTINGS, WHEN

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
# The questions whose answers the report keeps sealed, with the answers the form offers.
SEALED_QUESTIONS: dict[str, Mapping[str, object]] = {"setting": SETTINGS, "perpetrator": PERPETRATORS, "when": WHEN}
# The consent choices counted. The ways to reach her are not: the database keeps them only as
# keyed indexes, so that it does not tell which exist.
CONSENT_QUESTIONS = ("peer_support", "legal_referral", "identity_to_counsel")
# A support request asks only what is on her mind, her language, how to reach her and her choices.
SUPPORT_QUESTIONS = ("level", "language", "named", *CONSENT_QUESTIONS)
QUESTIONS_OF = {"report": QUESTIONS, "support": SUPPORT_QUESTIONS}
# Tallies that are not the figures' own (they read kinds report and support): what the reports
# shredded since (app/retention) gave, so that recount counts them still; and the stage each
# referral of a shredded case had reached, by the month it was made (question "stage").
SHREDDED = "shredded"
REFERRALS = "referral"
UNANSWERED = "unanswered"
# A sealed answer whose index matches none the form offers now (from a list since changed).
ANOTHER = "another"
INDEX_PURPOSE = "tally-answer"
# Of the index, what fits the answer column: 16 bytes, as hex.
INDEX_BYTES = 16
# Cases opened at a time by recount.
BATCH = 500

Key = tuple[str, str, str]  # month, question, answer
StoredForm = Callable[[str, str, str], str]  # month, question, answer -> the answer as stored


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
    for question in SEALED_QUESTIONS:
        answers[question] = context.get(question) or UNANSWERED
    for purpose in CONSENT_QUESTIONS:
        answers[purpose] = "yes" if consent.get(purpose) else "no"
    return answers


def stored_answer(kind: str, version: str | None = None) -> StoredForm:
    """How the tallies of ``kind`` store an answer: a clear question's as it is, a sealed
    question's as a keyed index of its month, kind, question and answer (the key derived once,
    from root version ``version``; None: the active one)."""
    index_of = blind_indexer(current_keyring(), INDEX_PURPOSE, version=version)

    def stored(month: str, question: str, answer: str) -> str:
        if question not in SEALED_QUESTIONS:
            return answer
        return index_of(f"{month}|{kind}|{question}|{answer}")[:INDEX_BYTES].hex()

    return stored


def answer_reader(kind: str, version: str | None = None) -> StoredForm:
    """The inverse of :func:`stored_answer` for the figures: each sealed answer the form offers
    (and "unanswered") is indexed once per month asked for, and an index that matches none of
    them reads as ANOTHER. Under root version ``version`` (None: the active one); a tally kept
    under an older one is indexed anew by `flask keys rekey` (app/cases/rootkeys.py)."""
    stored = stored_answer(kind, version)
    known: dict[str, dict[tuple[str, str], str]] = {}

    def read(month: str, question: str, answer: str) -> str:
        if question not in SEALED_QUESTIONS:
            return answer
        if month not in known:
            known[month] = {
                (q, stored(month, q, code)): code
                for q, codes in SEALED_QUESTIONS.items()
                for code in [*codes, UNANSWERED]
            }
        return known[month].get((question, answer), ANOTHER)

    return read


def count_report(month: str, answers: Mapping[str, str], *, kind: str = "report") -> None:
    """Add one report's (or, with ``kind`` support, one support request's) answers to its month's
    tallies, in the caller's transaction (one statement). Rows are written in key order, so two
    reports counted at once never deadlock."""
    _add(Counter({(month, question, answers[question]): 1 for question in QUESTIONS_OF[kind]}), kind)


def _add(counts: Mapping[Key, int], kind: str) -> None:
    if not counts:
        return
    stored = stored_answer(kind)
    add_stored(
        {(month, question, stored(month, question, answer)): n for (month, question, answer), n in counts.items()}, kind
    )


def add_stored(counts: Mapping[Key, int], kind: str, root: str | None = None) -> None:
    """Add ``counts``, their answers already as stored (sealed ones under root version ``root``;
    None: the active one), to the tallies of ``kind``, in the caller's transaction, in key order
    (so two writers never deadlock)."""
    if not counts:
        return
    statement = conflict_insert(ReportTally, db.session.get_bind().dialect.name)
    statement = statement.on_conflict_do_update(
        index_elements=["month", "kind", "question", "answer"],
        set_={"count": ReportTally.count + statement.excluded.count},
    )
    root = root or current_keyring().active_root_id
    rows = [
        {
            "month": month,
            "kind": kind,
            "question": question,
            "answer": answer,
            "answer_root": root if question in SEALED_QUESTIONS else None,
            "count": n,
        }
        for (month, question, answer), n in sorted(counts.items())
    ]
    db.session.execute(statement, rows)


def count_shredded(case_id: str) -> None:
    """Before the report ``case_id`` is shredded, in the same transaction: keep what
    :func:`recount` counts of it, as tallies of kind SHREDDED (answers as stored, sealed ones
    as keyed indexes), so that a recount after it is gone still counts it. Its tallies of kind
    report, made when it was filed, are left as they are."""
    counts = Counter[Key]()
    _count(select(Case).where(Case.id == case_id, Case.kind == "report"), counts)
    stored = stored_answer("report")
    add_stored(
        {(month, question, stored(month, question, answer)): n for (month, question, answer), n in counts.items()},
        SHREDDED,
    )


class Recounted(NamedTuple):
    reports: int
    months: tuple[str, ...]


def recount() -> Recounted:
    """Count the tallies of reports again from the cases themselves, the sealed answers opened
    with the keyring in memory only (for an operator: ``flask insights recount``). Commits.

    Only the months in which a case is found are replaced. A month whose cases have all been
    deleted keeps its counts, which nothing can make again; a month that has lost some of its
    cases is counted from those that are left, and from what those shredded under the
    retention policy left (kind SHREDDED, :func:`count_shredded`).

    Safe beside intake, which must never fail for it: the cases are read and opened holding no
    lock; then one short transaction takes the tallies' lock first (intake waits for it, and
    recount then waits for nothing intake holds), opens the few cases filed since the reading
    began, and replaces the months' rows. A report filed meanwhile is counted once: here if it
    was committed before the lock, by its own intake after it otherwise.

    Support requests are not counted again: their tallies stay as intake made them. A report
    that began as a support request is counted in the month it was first sent."""
    kind, counts = "report", Counter[Key]()
    reports = select(Case).where(Case.kind == "report")
    seen = _count(reports, counts)
    db.session.commit()  # the reading ends here: no snapshot or lock is kept into the writing
    _lock_tallies()
    filed_since = sorted(set(db.session.scalars(select(Case.id).where(Case.kind == "report"))) - seen)
    for start in range(0, len(filed_since), BATCH):
        seen |= _count(reports.where(Case.id.in_(filed_since[start : start + BATCH])), counts)
    months = tuple(sorted({month for month, _, _ in counts}))
    if months:
        db.session.execute(delete(ReportTally).where(ReportTally.kind == kind, ReportTally.month.in_(months)))
    _add(counts, kind)
    # The reports of these months shredded since they were filed count as they did.
    # Their sealed answers are indexed as a report's, under the root version each row names.
    shredded = db.session.execute(
        select(
            ReportTally.month, ReportTally.question, ReportTally.answer, ReportTally.answer_root, ReportTally.count
        ).where(ReportTally.kind == SHREDDED, ReportTally.month.in_(months))
    )
    by_root: dict[str | None, dict[Key, int]] = defaultdict(dict)
    for month, question, answer, root, n in shredded:
        by_root[root][(month, question, answer)] = n
    for root, stored_counts in by_root.items():
        add_stored(stored_counts, kind, root)
    db.session.commit()
    return Recounted(reports=len(seen), months=months)


def _count(cases: Select[Case], counts: Counter[Key]) -> set[str]:
    """Add the answers of ``cases`` to ``counts``, their sealed reports opened a batch at a
    time; returns their ids. The choices of a batch are read after the batch itself, so they
    are there for every case in it (a case and its choices are committed together)."""
    seen: set[str] = set()
    for batch in db.session.scalars(cases.execution_options(yield_per=BATCH)).partitions():
        consent = _consent_at_intake([case.id for case in batch])
        for case in batch:
            report = open_json(
                open_case_key(case), case.report_sealed, record="case", record_id=case.id, field="report"
            )
            answers = answers_of(
                category=case.category,
                level=case.level,
                county=case.county,
                language=case.language,
                named=case.is_named,
                context={question: str(report.get(question) or "") for question in SEALED_QUESTIONS},
                consent=consent.get(case.id, {}),
            )
            month = program_month(case.created_at)
            for question in QUESTIONS:
                counts[(month, question, answers[question])] += 1
            seen.add(case.id)
    return seen


def _lock_tallies() -> None:
    """Begin a transaction with the tallies' write lock, before it reads anything. Intake waits
    for it at its first write of tallies (PostgreSQL: the table lock, which only writers take)
    or of anything (SQLite: the database's write lock), and recount never waits for intake's
    rows, so neither can wait for the other in a circle; dashboards read on meanwhile."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("LOCK TABLE report_tallies IN SHARE ROW EXCLUSIVE MODE"))
    else:
        take_write_lock(ReportTally.count)


def _consent_at_intake(case_ids: list[str]) -> dict[str, dict[str, bool]]:
    """The choices the forms of ``case_ids`` made, as counted when they were filed."""
    rows = db.session.execute(
        select(ConsentRecord.case_id, ConsentRecord.purpose, ConsentRecord.granted).where(
            ConsentRecord.case_id.in_(case_ids),
            ConsentRecord.source == "intake",
            ConsentRecord.recipient == "",
            ConsentRecord.purpose.in_(CONSENT_QUESTIONS),
        )
    )
    choices: dict[str, dict[str, bool]] = {}
    for case_id, purpose, granted in rows:
        choices.setdefault(case_id, {})[purpose] = bool(granted)
    return choices
