"""The program's figures for a period, every count already made safe to show.

Counts come from the tallies made as reports are filed (``app.cases.tallies``) and from the
referrals; times come from the cases' clear timestamps. Support requests are counted apart, a
population of their own: their tables are protected together, apart from the reports'. Every count passes through
``suppression.protect`` with the others of its view, so no figure on the page, in the CSV or
in the PDF can reveal a count from 1 to 4; a time or a share is withheld when fewer than five
cases stand behind it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from app.cases.models import ReportTally
from app.cases.tallies import (
    ANOTHER,
    QUESTIONS,
    QUESTIONS_OF,
    REFERRALS,
    SEALED_QUESTIONS,
    SUPPORT_QUESTIONS,
    UNANSWERED,
    answer_reader,
)
from app.config import current_settings
from app.extensions import db
from app.insights import suppression, timings
from app.insights.period import Period
from app.keystore import current_keyring
from app.models import utcnow
from app.referrals.models import Referral
from app.referrals.vocabulary import STATUS_NAMES as REFERRAL_STAGES
from app.triage.eligibility import language_name
from app.vocabulary import CATEGORIES, COUNTIES, PERPETRATORS, SETTINGS, WHEN

POPULATION = "reports"
# What each kind's tables count, for suppression: two populations, never one figure.
POPULATIONS = {"report": POPULATION, "support": "support requests"}
TITLES = {
    "category": "What happened",
    "level": "Level",
    "county": "County",
    "language": "Language",
    "setting": "Where it happened",
    "perpetrator": "Who did it",
    "when": "How long before reporting it happened",
    "named": "Named or anonymous",
    "peer_support": "Agreed that a peer responder reads the report",
    "legal_referral": "Agreed to a legal referral if asked",
    "identity_to_counsel": "Agreed that counsel may see their name",
}
# A support request's questions, where a report's words would not fit.
SUPPORT_TITLES = {
    **TITLES,
    "named": "Gave contact details, or the receipt only",
    "peer_support": "Agreed that a peer responder reads the request",
}
SUPPORT_SECTION = "Support requests"
# Grouped as the page shows them.
SECTIONS = (
    ("What was reported", ("category", "level", "setting", "perpetrator")),
    ("Who reported, from where", ("county", "language", "named")),
    ("Reporting delay", ("when",)),
    ("Consent when reporting", ("peer_support", "legal_referral", "identity_to_counsel")),
)
LEVEL_NAMES = {
    "L0": "L0 · imminent danger",
    "L1": "L1 · urgent",
    "L2": "L2 · serious",
    "L3": "L3 · routine",
}
YES_NO = {"yes": "Agreed", "no": "Did not agree"}


def answer_names(question: str, kind: str = "report") -> dict[str, str]:
    """The answers a question may have, in the order shown, with their English names."""
    plain: Mapping[str, object]
    if question == "category":
        plain = CATEGORIES
    elif question == "level":
        plain = LEVEL_NAMES
    elif question == "county":
        plain = COUNTIES
    elif question == "language":
        plain = {code: language_name(code) for code in current_settings().languages}
    elif question == "setting":
        plain = SETTINGS
    elif question == "perpetrator":
        plain = PERPETRATORS
    elif question == "when":
        plain = WHEN
    elif question == "named":
        plain = {"named": "Named", "anonymous": "Anonymous"}
        if kind == "support":
            plain = {"named": "Gave contact details", "anonymous": "Receipt only"}
    else:
        plain = YES_NO
    names = {code: str(label) for code, label in plain.items()}
    if question in ("county", *SEALED_QUESTIONS):
        names[UNANSWERED] = "Not answered"
    if question in SEALED_QUESTIONS:
        names[ANOTHER] = "Another answer"  # a row only when there is one (_report_tables)
    return names


@dataclass(frozen=True)
class Dashboard:
    """Everything ``/insights`` shows for one period, safe to show; shared by the requests
    that reuse it (app/insights/keeping.py), so never changed once made."""

    period: Period
    previous: Period
    # question -> the answers × months table of the period, and the answers × months of the one before
    reports: dict[str, suppression.ProtectedTable]
    before: dict[str, suppression.ProtectedTable]
    names: dict[str, dict[str, str]]
    referrals: suppression.ProtectedTable
    times: list[timings.LevelTimes] = field(default_factory=list)
    # The same for support requests: question -> table, this period and the one before.
    support: dict[str, suppression.ProtectedTable] = field(default_factory=dict)
    support_before: dict[str, suppression.ProtectedTable] = field(default_factory=dict)
    support_names: dict[str, dict[str, str]] = field(default_factory=dict)
    support_times: list[timings.LevelTimes] = field(default_factory=list)
    made_at: datetime = field(default_factory=utcnow)  # when these figures were worked out

    def per_month(self) -> suppression.ProtectedTable:
        """Any one report table: its column totals are the reports of each month."""
        return self.reports["category"]

    def tables(self, kind: str) -> tuple[dict[str, suppression.ProtectedTable], dict[str, suppression.ProtectedTable]]:
        """The tables of ``kind`` (report or support) for the period and the one before."""
        return (self.reports, self.before) if kind == "report" else (self.support, self.support_before)


def _tallies(period: Period, kind: str) -> dict[str, dict[tuple[str, str], int]]:
    first, last = period.months[0], period.months[-1]
    rows = db.session.execute(
        select(
            ReportTally.question,
            ReportTally.answer,
            ReportTally.answer_root,
            ReportTally.month,
            func.sum(ReportTally.count),
        )
        .where(ReportTally.kind == kind, ReportTally.month >= first, ReportTally.month <= last)
        .group_by(ReportTally.question, ReportTally.answer, ReportTally.answer_root, ReportTally.month)
    )
    # The sealed questions' answers are stored as keyed indexes: read back with the keyring,
    # each under the root version it was made with (until `flask keys rekey` makes it again).
    versions = set(current_keyring().roots)
    readers: dict[str | None, Callable[[str, str, str], str]] = {}
    counts: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for question, answer, root, month, count in rows:
        version = root if root in versions else None
        if version not in readers:
            readers[version] = answer_reader(kind, version)
        read = readers[version]
        counts[question][(read(month, question, answer), month)] += int(count)
    return {question: dict(cells) for question, cells in counts.items()}


def _report_tables(
    periods: tuple[Period, Period], names: Mapping[str, dict[str, str]], kind: str = "report"
) -> tuple[dict[str, suppression.ProtectedTable], ...]:
    """The report tables of each of ``periods``, with the same rows, so the page can set them
    side by side: an answer the page does not name (``ANOTHER``, or one no longer offered)
    found in either is a row of both."""
    counts = [_tallies(period, kind) for period in periods]
    rows = {}
    for question in QUESTIONS_OF[kind]:
        known = [answer for answer in names[question] if answer != ANOTHER]
        found = {answer for each in counts for answer, _ in each.get(question, {})}
        rows[question] = tuple(known + sorted(found - set(known)))
    return tuple(
        suppression.protect(
            [
                suppression.CountTable(
                    name=question,
                    population=POPULATIONS[kind],
                    row_space=question,
                    rows=rows[question],
                    col_space="month",
                    columns=period.months,
                    counts=each.get(question, {}),
                )
                for question in QUESTIONS_OF[kind]
            ]
        )
        for period, each in zip(periods, counts, strict=True)
    )


def _referral_table(period: Period) -> suppression.ProtectedTable:
    """Referrals made in the period, by the stage they have reached, month by month."""
    start, end = period.bounds()
    month = period.month_of(Referral.created_at).label("month")
    counts = {
        (stage, period.months[index]): int(count)
        for stage, index, count in db.session.execute(
            select(Referral.status, month, func.count())
            .where(Referral.created_at >= start, Referral.created_at < end)
            .group_by(Referral.status, month)
        )
    }
    # The referrals of shredded cases (app/referrals/ending.py), counted by the month they were made.
    for stage, month_made, count in db.session.execute(
        select(ReportTally.answer, ReportTally.month, ReportTally.count).where(
            ReportTally.kind == REFERRALS, ReportTally.month.in_(period.months)
        )
    ):
        counts[(stage, month_made)] = counts.get((stage, month_made), 0) + int(count)
    table = suppression.CountTable(
        name="referrals",
        population="referrals",
        row_space="stage",
        rows=tuple(REFERRAL_STAGES),
        col_space="month",
        columns=period.months,
        counts=counts,
    )
    return suppression.protect([table])["referrals"]


def dashboard(period: Period) -> Dashboard:
    """The figures of ``period``, compared with the same number of months before it."""
    names = {question: answer_names(question) for question in QUESTIONS}
    names["referrals"] = dict(REFERRAL_STAGES)
    support_names = {question: answer_names(question, "support") for question in SUPPORT_QUESTIONS}
    previous = period.previous()
    reports, before = _report_tables((period, previous), names)
    support, support_before = _report_tables((period, previous), support_names, "support")
    return Dashboard(
        period=period,
        previous=previous,
        reports=reports,
        before=before,
        names=names,
        referrals=_referral_table(period),
        times=timings.by_level(period),
        support=support,
        support_before=support_before,
        support_names=support_names,
        support_times=timings.by_level(period, "support"),
    )
