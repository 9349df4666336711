"""Staff pages benchmark: the case queue and a case's page through gunicorn on PostgreSQL,
with 100,000 cases.

    .venv/bin/python bench/staff_pages.py          (--cases, --duration, --clients)

It makes a fresh database ``confide_bench_queue`` (dropped at the end), a keyring, config and
log in a temporary folder, Redis database 11 (flushed), and gunicorn with 2 sync workers. The
cases: 100,000 over three years, bulk-loaded with COPY in the stored format (a data key of
their own, the report sealed, real blind indexes, consent records, audit entries in one hash
chain), 20 of them made through the real services with a 5,000-character narrative, 20
messages and 2 notes. 2 coordinators and 20 responders; one responder has 5,000 cases.

Each phase, ``--clients`` threads with one signed-in session GET its pages in a closed loop
(warm-up, then ``--duration`` seconds measured); every answer is checked against what the
service gives. The baseline is /staff/profile (same session, access check and layout, no
cases), run first and last. Targets: every queue page p95 < 100 ms, the case page p95 < 30
ms. A table, then one JSON line; exit 0 targets met, 1 errors, 2 a target missed.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import itertools
import json
import math
import os
import random
import re
import secrets
import signal
import statistics
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import pyotp  # noqa: E402

from bench import harness  # noqa: E402
from tests import factories  # noqa: E402

BENCH_DATABASE = "confide_bench_queue"
REDIS_URL = os.environ.get("CONFIDE_BENCH_QUEUE_REDIS_URL", "redis://127.0.0.1:6379/11")
QUEUE_PREFIX = "confide-bench-queue"

TARGET_QUEUE_P95_MS = 100.0
TARGET_CASE_P95_MS = 30.0

RESPONDERS = 20
BIG_CASELOAD = 5_000
PAGE_CASES = 20
PAGE_CASE_MESSAGES = 20
NARRATIVE_CHARS = 5_000


# --------------------------------------------------------------------------- the setup

CONFIG_TOML = """\
# Written by bench/staff_pages.py for one run; removed afterwards.

[rate_limits]
# Every client is 127.0.0.1: raise the limits so the benchmark measures, not throttles.
report = "1000000 per minute"
report_all = "1000000 per minute"
status = "1000000 per minute"
staff_login = "1000000 per minute"
"""


def in_process_app(env: dict[str, str]) -> Any:
    """The app in this process, configured exactly as gunicorn's (same environment)."""
    for key in list(os.environ):
        if key.startswith(("CONFIDE_", "FLASK_", "GUNICORN_")):
            del os.environ[key]
    os.environ.update({k: v for k, v in env.items() if k.startswith(("CONFIDE_", "FLASK_"))})
    from app import create_app

    return create_app()


# --------------------------------------------------------------------------- the data

SENTENCES = harness.SENTENCES
MESSAGES = [
    "Thank you for writing to us. I have read your report carefully and I am here to help.",
    "Would it be all right to talk about what you would like to happen next?",
    "I can explain how a complaint to the licensing board works, step by step, if that helps.",
    "I am still thinking about it. I do not want the owner to find out I wrote this.",
    "Nothing you tell us is shared with your employer. You decide what happens next.",
    "He came back again yesterday and asked for me by name. I said I was fully booked.",
    "That sounds frightening. Are you safe at work now, and is there someone with you on shifts?",
    "I wrote down the dates of every booking he made this year, I can add them here.",
]
CATEGORY_WEIGHTS = harness.CATEGORY_WEIGHTS
# Status by the case's age in days: (up to age, {status: weight}).
STATUS_BY_AGE = [
    (1, {"new": 45, "acknowledged": 35, "in_progress": 20}),
    (7, {"new": 2, "acknowledged": 25, "in_progress": 55, "referred": 5, "closed": 13}),
    (60, {"acknowledged": 5, "in_progress": 40, "referred": 10, "closed": 43, "reopened": 2}),
    (365, {"in_progress": 6, "referred": 6, "closed": 86, "reopened": 2}),
    (math.inf, {"in_progress": 1, "referred": 2, "closed": 96.5, "reopened": 0.5}),
]


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _text(rng: random.Random, chars: int, pool: list[str] = SENTENCES) -> str:
    out: list[str] = []
    length = 0
    while length < chars:
        sentence = rng.choice(pool)
        out.append(sentence)
        length += len(sentence) + 1
    return " ".join(out)[:chars].rstrip()


def _level(rng: random.Random, category: str) -> tuple[int, list[str]]:
    """Roughly what app.triage.scoring gives for such reports."""
    roll = rng.random()
    if roll < 0.03:
        return 0, ["danger_now"] + (["injury"] if rng.random() < 0.4 else [])
    if roll < 0.11:
        return 3, ["record_only"]
    if category in ("rape", "sexual_assault"):
        return (1, ["recent_sexual_assault"]) if rng.random() < 0.5 else (2, [])
    if category == "exploitation":
        return 1, ["coercion"]
    if category in ("sexual_harassment", "physical_assault", "threats", "practitioner_violation"):
        return (1, ["injury"]) if rng.random() < 0.1 else (2, ["ongoing"] if rng.random() < 0.3 else [])
    return 3, []


@dataclass
class StaffAccount:
    id: str
    email: str
    role: str
    secret: str


def make_staff(role: str, email: str, name: str, pseudonym: str | None) -> StaffAccount:
    """An enrolled, active account (tests/factories.py), on duty, English and Spanish for half."""
    languages = ("en", "es") if pseudonym and pseudonym[0] in "AEIOU" else ("en",)
    made = factories.make_staff(role, email=email, name=name, pseudonym=pseudonym, languages=languages, caseload_cap=25)
    return StaffAccount(id=made.id, email=email, role=role, secret=made.secret)


PSEUDONYMS = [
    "Alder",
    "Birch",
    "Cedar",
    "Elm",
    "Fern",
    "Hazel",
    "Ivy",
    "Juniper",
    "Laurel",
    "Maple",
    "Olive",
    "Poplar",
    "Rowan",
    "Sage",
    "Tamarack",
    "Umber",
    "Willow",
    "Yarrow",
    "Aspen",
    "Ember",
    "Heron",
    "Otter",
]


def seed_staff() -> tuple[StaffAccount, StaffAccount, list[StaffAccount], list[StaffAccount]]:
    coordinators = [
        make_staff("coordinator", "coordinator-bench@example.org", "Casey Coordinator", PSEUDONYMS[20]),
        make_staff("coordinator", "coordinator-two@example.org", "Dana Coordinator", PSEUDONYMS[21]),
    ]
    responders = [
        make_staff("responder", f"responder-{i:02d}@example.org", f"Responder {i:02d}", PSEUDONYMS[i])
        for i in range(RESPONDERS)
    ]
    return coordinators[0], responders[0], coordinators, responders


CASE_COLUMNS = (
    "id",
    "receipt_index",
    "submission_index",
    "created_at",
    "updated_at",
    "category",
    "level",
    "signals",
    "status",
    "queue_rank",
    "routing_state",
    "language",
    "county",
    "is_named",
    "ack_due_at",
    "feedback_due_at",
    "queued_at",
    "assigned_to_id",
    "assigned_at",
    "acknowledged_at",
    "important",
    "closed_reason",
    "dek_scheme",
    "dek_key_id",
    "dek_wrapped",
    "report_sealed",
    "contact_sealed",
)
CONSENT_COLUMNS = ("case_id", "purpose", "recipient", "granted", "recorded_at", "source")
AUDIT_COLUMNS = ("id", "at", "actor_id", "actor_role", "action", "case_id", "detail", "prev_hash", "hash")


@dataclass
class SeedReport:
    bulk_cases: int = 0
    service_cases: int = 0
    consent_records: int = 0
    audit_entries: int = 0
    messages: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    levels: dict[str, int] = field(default_factory=dict)
    caseloads: list[int] = field(default_factory=list)
    narrative_median_chars: int = 0
    table_mb: dict[str, float] = field(default_factory=dict)


def seed_bulk(
    app: Any,
    count: int,
    coordinators: list[StaffAccount],
    responders: list[StaffAccount],
    big: StaffAccount,
    big_share: int,
    rng: random.Random,
    report: SeedReport,
) -> None:
    """``count`` cases in the real stored format, with COPY. See the module docstring."""
    from types import SimpleNamespace

    from app.audit.log import chain_key, entry_hash
    from app.audit.models import GENESIS
    from app.cases.consent import PURPOSES
    from app.cases.content import ContactDetails, ReportContent
    from app.cases.sealing import case_owner, seal_json
    from app.crypto import wrap_dek
    from app.keystore import current_keyring
    from app.models import utcnow
    from app.vocabulary import CLOSE_REASONS, COUNTIES, PERPETRATORS, QUEUE_RANK, SETTINGS, WANTS, WHEN

    started = time.perf_counter()
    ring = current_keyring()
    ack_hours = app.config["CONFIDE"].triage.ack_hours
    feedback_days = app.config["CONFIDE"].triage.feedback_days
    receipt_key = ring.derive("blind-index/receipt")
    submission_key = ring.derive("blind-index/submission")
    now = utcnow()
    counties = list(COUNTIES)
    others = [s for s in responders if s.id != big.id]
    # Caseloads differ: long-serving and part-time responders.
    other_weights = [rng.lognormvariate(0, 0.35) for _ in others] + [0.1 for _ in coordinators]
    others_all = others + coordinators
    coordinator_ids = [c.id for c in coordinators]

    cases: list[tuple[Any, ...]] = []
    consents: list[tuple[Any, ...]] = []
    events: list[tuple[datetime, str, str, str, str, dict[str, Any]]] = []
    lengths: list[int] = []
    assigned_rows: list[int] = []
    for i in range(count):
        case_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        age_days = 1095 * rng.random() ** 1.3
        created = now - timedelta(days=age_days, seconds=rng.randint(0, 3600))
        category = _weighted(rng, CATEGORY_WEIGHTS)
        level, signals = _level(rng, category)
        status = _weighted(rng, next(w for limit, w in STATUS_BY_AGE if age_days < limit))
        ack_due = created + timedelta(hours=ack_hours[level])
        feedback_due = created + timedelta(days=feedback_days)
        language = "es" if rng.random() < 0.2 else "en"
        named = rng.random() < 0.25
        acknowledged = None
        if status != "new":
            acknowledged = created + timedelta(hours=ack_hours[level] * rng.uniform(0.05, 1.4))
        assigned_at = (
            created + timedelta(minutes=rng.uniform(1, 45)) if (status != "new" or rng.random() < 0.6) else None
        )
        if assigned_at is not None and acknowledged is not None and acknowledged < assigned_at:
            assigned_at = acknowledged
        updated = max(t for t in (created, assigned_at, acknowledged) if t is not None)
        if status not in ("new", "acknowledged"):
            updated = min(now, updated + timedelta(days=rng.uniform(0.1, 40)))
        closed_reason = rng.choice(list(CLOSE_REASONS)) if status == "closed" else None
        important = rng.random() < (0.01 if status == "closed" else 0.04)

        chars = int(min(8000, max(60, rng.lognormvariate(math.log(700), 0.8))))
        lengths.append(chars)
        content = ReportContent(
            narrative=_text(rng, chars),
            perpetrator=rng.choice(list(PERPETRATORS)),
            setting=rng.choice(list(SETTINGS)),
            when=rng.choice(list(WHEN)),
            danger_now="yes" if level == 0 else rng.choice(("no", "no", "unsure")),
            injured=rng.choice(("no", "no", "yes", "")),
            ongoing=rng.choice(("yes", "no", "unsure", "")),
            wants=tuple(rng.sample(list(WANTS), rng.randint(1, 2))),
        )
        dek = os.urandom(32)
        wrapped = wrap_dek(ring, dek, owner=case_owner(case_id))
        report_sealed = seal_json(dek, asdict(content), record="case", record_id=case_id, field="report")
        contact_sealed = None
        if named:
            contact = ContactDetails(
                name=f"Reporter {i}",
                email=f"reporter{i}@example.org",
                phone="860-555-0100",
                safe_times="Weekdays after 6 pm",
                voicemail_ok=rng.choice(("yes", "no")),
                code_word="bluebird",
            )
            contact_sealed = seal_json(dek, asdict(contact), record="case", record_id=case_id, field="contact")
        receipt = f"{secrets.randbelow(10**20):020d}"
        cases.append(
            [
                case_id,
                hmac.new(receipt_key, receipt.encode(), hashlib.sha256).digest(),
                hmac.new(submission_key, secrets.token_urlsafe(16).encode(), hashlib.sha256).digest(),
                created,
                updated,
                category,
                level,
                json.dumps(signals),
                status,
                QUEUE_RANK[status],
                "awaiting_assignment",
                language,
                rng.choice(counties) if rng.random() < 0.7 else None,
                named,
                ack_due,
                feedback_due,
                created + timedelta(seconds=rng.uniform(0.2, 5)),
                None,
                assigned_at,
                acknowledged,
                important,
                closed_reason,
                wrapped.scheme,
                wrapped.key_id,
                wrapped.blob,
                report_sealed,
                contact_sealed,
            ]
        )
        if assigned_at is not None:
            assigned_rows.append(i)
        granted = {
            "peer_support": True,
            "legal_referral": rng.random() < 0.3,
            "identity_to_counsel": named and rng.random() < 0.3,
            "contact_phone": named and rng.random() < 0.5,
            "contact_email": named and rng.random() < 0.7,
            "contact_text": named and rng.random() < 0.5,
        }
        consents.extend((case_id, p, "", granted[p], created, "intake") for p in PURPOSES)

    # Assignees: exactly ``big_share`` cases to the big responder, the rest by weight.
    big_rows = set(rng.sample(assigned_rows, big_share))
    for i in assigned_rows:
        row = cases[i]
        staff = big if i in big_rows else rng.choices(others_all, weights=other_weights)[0]
        row[17] = staff.id
        case_id, created, status, assigned_at, acknowledged, updated = row[0], row[3], row[8], row[18], row[19], row[4]
        events.append(
            (
                assigned_at,
                rng.choice(coordinator_ids),
                "coordinator",
                "case_assigned",
                case_id,
                {"to": staff.id, "previous": None},
            )
        )
        if acknowledged is not None:
            events.append((acknowledged, staff.id, staff.role, "case_acknowledged", case_id, {}))
        if status not in ("new", "acknowledged"):
            events.append(
                (
                    updated,
                    staff.id,
                    staff.role,
                    "case_status_changed",
                    case_id,
                    {"old": "acknowledged", "new": status, "reason": row[21]},
                )
            )
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            seen = created + (min(now, updated + timedelta(days=1)) - created) * rng.random()
            events.append(
                (
                    seen,
                    staff.id,
                    staff.role,
                    "case_viewed",
                    case_id,
                    {"contact_shown": bool(row[13]), "report_shown": True},
                )
            )
    events.sort(key=lambda e: e[0])
    # The chain links exactly as app.audit.log.append makes them: its own key and function,
    # given each entry's fields (a stand-in object, not an ORM instance, for speed).
    audit: list[tuple[Any, ...]] = []
    prev = GENESIS
    key = chain_key()
    for entry_id, (at, actor, role, action, case_id, detail) in enumerate(events, start=1):
        digest = entry_hash(
            key,
            SimpleNamespace(  # type: ignore[arg-type]
                id=entry_id,
                at=at,
                actor_id=actor,
                actor_role=role,
                action=action,
                case_id=case_id,
                detail=detail,
                prev_hash=prev,
            ),
        )
        audit.append((entry_id, at, actor, role, action, case_id, json.dumps(detail), prev, digest))
        prev = digest
    report.seconds["bulk_generate"] = round(time.perf_counter() - started, 1)

    started = time.perf_counter()
    with psycopg.connect(harness.pg_url(BENCH_DATABASE, "postgresql")) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY cases ({', '.join(CASE_COLUMNS)}) FROM STDIN") as copy:
                for row in cases:
                    copy.write_row(row)
            with cur.copy(f"COPY consent_records ({', '.join(CONSENT_COLUMNS)}) FROM STDIN") as copy:
                for row in consents:
                    copy.write_row(row)
            with cur.copy(f"COPY audit_log ({', '.join(AUDIT_COLUMNS)}) FROM STDIN") as copy:
                for row in audit:
                    copy.write_row(row)
            cur.execute("UPDATE audit_head SET last_id = %s, last_hash = %s WHERE id = 1", (len(audit), prev))
        conn.commit()
    report.seconds["bulk_copy"] = round(time.perf_counter() - started, 1)
    report.bulk_cases = len(cases)
    report.consent_records = len(consents)
    report.audit_entries = len(audit)
    report.narrative_median_chars = int(statistics.median(lengths))


def seed_page_cases(
    coordinator: StaffAccount, responder: StaffAccount, rng: random.Random, report: SeedReport
) -> list[tuple[str, str]]:
    """The cases the case-page phase opens, through the real services. Returns (id, marker)."""
    from app.cases.content import ContactDetails, ReportContent
    from app.cases.models import Case
    from app.casework import services
    from app.extensions import db
    from app.intake import services as intake
    from app.staff.models import StaffUser

    started = time.perf_counter()
    made: list[tuple[str, str]] = []
    for n in range(PAGE_CASES):
        marker = f"BENCHCASE{n:02d}X{secrets.token_hex(4)}"
        narrative = (f"{marker} " + _text(rng, NARRATIVE_CHARS))[:NARRATIVE_CHARS]
        filed = intake.submit_report(
            intake.Submission(
                category=rng.choice(["sexual_harassment", "practitioner_violation", "exploitation", "threats"]),
                language="en",
                content=ReportContent(
                    narrative=narrative,
                    perpetrator="client",
                    setting="clinic",
                    when="month",
                    danger_now="no",
                    injured="no",
                    ongoing="yes",
                    wants=("peer", "licensing"),
                ),
                submission_token=secrets.token_urlsafe(16),
                county="hartford",
                contact=ContactDetails(
                    name=f"Page Reporter {n}",
                    email=f"page{n}@example.org",
                    phone="860-555-0101",
                    safe_times="Evenings",
                    voicemail_ok="no",
                    code_word="heron",
                ),
                consent={"peer_support": True, "legal_referral": True, "contact_email": True, "contact_text": True},
            )
        )
        coordinator_user = db.session.get(StaffUser, coordinator.id)
        responder_user = db.session.get(StaffUser, responder.id)
        case = db.session.get(Case, filed.case_id)
        assert case is not None and coordinator_user is not None and responder_user is not None
        services.assign(coordinator_user, case, responder.id)
        services.acknowledge(responder_user, case)
        services.change_status(responder_user, case, "in_progress")
        for k in range(PAGE_CASE_MESSAGES):
            body = _text(rng, rng.randint(120, 700), MESSAGES)
            if k % 2 == 0:
                intake.add_reporter_message(case.id, body)
            else:
                services.message_reporter(responder_user, case, body)
            report.messages += 1
        for _ in range(2):
            services.add_note(responder_user, case, _text(rng, rng.randint(100, 400)))
        made.append((case.id, marker))
        db.session.remove()
    report.service_cases = len(made)
    report.seconds["service_cases"] = round(time.perf_counter() - started, 1)
    return made


def vacuum_analyze(report: SeedReport) -> None:
    started = time.perf_counter()
    with psycopg.connect(harness.pg_url(BENCH_DATABASE, "postgresql"), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        for status, n in conn.execute("SELECT status, count(*) FROM cases GROUP BY 1 ORDER BY 2 DESC"):
            report.statuses[status] = n
        for level, n in conn.execute("SELECT level, count(*) FROM cases GROUP BY 1 ORDER BY 1"):
            report.levels[f"L{level}"] = n
        report.caseloads = [
            n
            for (n,) in conn.execute(
                "SELECT count(*) FROM cases WHERE assigned_to_id IS NOT NULL GROUP BY assigned_to_id ORDER BY 1 DESC"
            )
        ]
        for table in ("cases", "consent_records", "audit_log", "messages"):
            size = conn.execute("SELECT pg_total_relation_size(%s), pg_relation_size(%s)", (table, table)).fetchone()
            assert size is not None
            report.table_mb[table] = round(size[0] / 2**20, 1)
            if table == "cases":
                report.table_mb["cases_heap"] = round(size[1] / 2**20, 1)
    report.seconds["vacuum_analyze"] = round(time.perf_counter() - started, 1)


# ------------------------------------------------------------------------ the clients


def sign_in(port: int, account: StaffAccount) -> dict[str, str]:
    """Sign in through the real two-step form; returns the session cookie jar."""
    browser = harness.Browser(port)
    try:
        status, page = browser.request("GET", "/staff/login")
        form = {**harness.hidden_fields(page), "email": account.email, "password": factories.PASSWORD}
        status, page = browser.request("POST", "/staff/login", form)
        if status != 303 or "/staff/login/code" not in browser.location:
            raise SystemExit(f"sign-in of {account.email}: password step answered {status}")
        status, page = browser.request("GET", "/staff/login/code")
        # A fresh account has used no code yet: the current step's code is accepted once.
        code = pyotp.TOTP(account.secret).now()
        status, page = browser.request("POST", "/staff/login/code", {**harness.hidden_fields(page), "code": code})
        if status != 303 or "/cases" not in browser.location:
            raise SystemExit(f"sign-in of {account.email}: code step answered {status} -> {browser.location!r}")
        return dict(browser.cookies)
    finally:
        browser.close()


CASE_LINK_RE = re.compile(r'href="/cases/[0-9a-f-]{36}"')
MESSAGE_RE = re.compile(r'class="message from-')


@dataclass(frozen=True)
class Expect:
    """What a correct answer to one path contains: some texts, and ``count`` matches of a
    pattern (queue rows are counted by their links to cases, messages by their class)."""

    contains: tuple[str, ...]
    count: tuple[re.Pattern[str], int] | None = None


@dataclass(frozen=True)
class Phase:
    key: str
    title: str
    kind: str  # trivial | queue | case
    account: str  # coordinator | responder
    paths: tuple[str, ...]


@dataclass
class Tally(harness.Tally):
    """Per phase: each request's time in seconds, all together and by path."""

    latencies: list[float] = field(default_factory=list)
    by_path: dict[str, list[float]] = field(default_factory=dict)

    def merge(self, other: Self) -> None:
        """Add one client's tally to the phase's."""
        super().merge(other)
        self.latencies += other.latencies
        for path, values in other.by_path.items():
            self.by_path.setdefault(path, []).extend(values)


def run_phase(
    port: int,
    phase: Phase,
    cookies: dict[str, str],
    expect: dict[tuple[str, str], Expect],
    clients: int,
    seconds: float,
    record: bool,
    seed: int,
) -> tuple[Tally, float]:
    """``clients`` threads each GET the phase's paths in turn for ``seconds``; returns the
    tally and the wall time from the common start to the last client's last answer."""

    def client_step(index: int, rng: random.Random) -> harness.Step[Tally]:
        # Clients start at different paths (at random), so they do not all ask for the same page.
        paths = itertools.islice(itertools.cycle(phase.paths), rng.randrange(len(phase.paths)), None)

        def step(browser: harness.Browser, local: Tally) -> None:
            path = next(paths)
            start = time.perf_counter()
            status, body = browser.request("GET", path)
            took = time.perf_counter() - start
            if status != 200:
                raise harness.ClientError(f"GET {path}: {status} {browser.location}")
            want = expect[(phase.account, path)]
            for text in want.contains:
                if text not in body:
                    raise harness.ClientError(f"GET {path}: {text!r} missing")
            if want.count and len(want.count[0].findall(body)) != want.count[1]:
                raise harness.ClientError(
                    f"GET {path}: {len(want.count[0].findall(body))} x {want.count[0].pattern!r}, "
                    f"expected {want.count[1]}"
                )
            if record:
                local.latencies.append(took)
                local.by_path.setdefault(path, []).append(took)

        return step

    return harness.run_clients(port, clients, seconds, seed, Tally, client_step, cookies)


# ------------------------------------------------------------- what each page must hold


def expected_answers(
    app: Any, viewers: dict[str, str], phases: list[Phase], page_cases: list[tuple[str, str]]
) -> dict[tuple[str, str], Expect]:
    """For each queue path, what the service itself gives (total, rows, page), so that every
    answer served under load can be checked against it."""
    from app.casework import services, views

    expect: dict[tuple[str, str], Expect] = {}
    markers = dict(page_cases)
    for phase in phases:
        for path in phase.paths:
            key = (phase.account, path)
            if phase.kind == "trivial":
                expect[key] = Expect(contains=("Your profile", "Sign out ("))
            elif phase.kind == "case":
                case_id = path.rsplit("/", 1)[1]
                expect[key] = Expect(
                    contains=('id="narrative"', markers[case_id]), count=(MESSAGE_RE, PAGE_CASE_MESSAGES)
                )
            else:
                with app.test_request_context(path):
                    viewer = as_viewer(viewers[phase.account])
                    page = request_page()
                    result = services.queue_page(viewer, views._filters(), page)
                # The total, the page number, and a link to exactly each case the service
                # puts on this page.
                contains = [f"{result.total} case", 'id="queue"'] + [f'href="/cases/{r.id}"' for r in result.rows]
                if result.pages > 1:
                    contains.append(f"Page {result.page} of {result.pages}")
                expect[key] = Expect(contains=tuple(contains), count=(CASE_LINK_RE, len(result.rows)))
    return expect


def as_viewer(staff_id: str) -> Any:
    """Within a test request context: this staff member is signed in (as
    app.staff.sessions.current_staff would find them), for the view and its templates."""
    from flask import g, session

    from app.extensions import db
    from app.staff.models import StaffUser

    user = db.session.get(StaffUser, staff_id)
    assert user is not None
    session["staff"] = {"id": user.id, "epoch": user.session_epoch}
    g.staff_user = user
    return user


def request_page() -> int:
    """The page number exactly as app.casework.views.queue reads it."""
    from flask import request

    page = request.args.get("page", "1")
    return int(page) if page.isdigit() and len(page) < 7 else 1


# ------------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    # One client per worker: latency as a responder meets it, without queueing for a worker.
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per phase")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--deep-page", type=int, default=1000, help="the coordinator's deep queue page")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not (BIG_CASELOAD * 2 <= args.cases <= 2_000_000):
        parser.error(f"cases {BIG_CASELOAD * 2}-2,000,000")
    if not (1 <= args.clients <= 64 and 1 <= args.duration <= 300 and 0 <= args.warmup <= 60):
        parser.error("clients 1-64, duration 1-300 s, warmup 0-60 s")
    if not 1 <= args.workers <= 16:
        parser.error("workers 1-16")
    return args


def build_phases(args: argparse.Namespace, page_cases: list[tuple[str, str]]) -> list[Phase]:
    responder_deep = max(1, BIG_CASELOAD // 50 // 2)
    filters = (
        "/cases?level=1",
        "/cases?status=new",
        "/cases?category=exploitation&language=es",
        "/cases?status=in_progress&level=2",
    )
    return [
        Phase("trivial", "trivial /staff/profile", "trivial", "coordinator", ("/staff/profile",)),
        Phase("queue_first", "queue, coordinator, page 1", "queue", "coordinator", ("/cases",)),
        Phase(
            "queue_deep",
            f"queue, coordinator, page {args.deep_page}",
            "queue",
            "coordinator",
            (f"/cases?page={args.deep_page}",),
        ),
        Phase("queue_filtered", "queue, coordinator, 4 filters", "queue", "coordinator", filters),
        Phase("responder_first", "queue, responder, page 1", "queue", "responder", ("/cases",)),
        Phase(
            "responder_deep",
            f"queue, responder, page {responder_deep}",
            "queue",
            "responder",
            (f"/cases?page={responder_deep}",),
        ),
        Phase(
            "case_page",
            "case page (5 KB + 20 msgs)",
            "case",
            "coordinator",
            tuple(f"/cases/{cid}" for cid, _ in page_cases),
        ),
        Phase("trivial_end", "trivial /staff/profile again", "trivial", "coordinator", ("/staff/profile",)),
    ]


def main() -> int:
    """Set up, seed, measure, report; the exit status as the module docstring says."""
    args = parse_args()
    # SIGTERM ends the run like Ctrl-C does, through the clean-up below and bench_setup's.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with harness.bench_setup(
        database=BENCH_DATABASE,
        redis_url=REDIS_URL,
        queue_prefix=QUEUE_PREFIX,
        config_toml=CONFIG_TOML,
        workdir_prefix="confide-bench-queue-",
    ) as setup:
        app = in_process_app(setup.env)
        try:
            return run(args, app, setup)
        finally:
            # The in-process app's connections go before bench_setup drops the database.
            from app.extensions import db

            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def run(args: argparse.Namespace, app: Any, setup: harness.Setup) -> int:
    """Seed the database, run every phase through gunicorn, report."""
    rng = random.Random(args.seed)
    seed = SeedReport()
    print(f"seeding {args.cases:,} cases …", flush=True)
    seed_started = time.perf_counter()
    with app.app_context():
        started = time.perf_counter()
        coordinator, responder, coordinators, responders = seed_staff()
        seed.seconds["staff"] = round(time.perf_counter() - started, 1)
        seed_bulk(
            app,
            args.cases - PAGE_CASES,
            coordinators,
            responders,
            responder,
            BIG_CASELOAD - PAGE_CASES,
            rng,
            seed,
        )
        page_cases = seed_page_cases(coordinator, responder, rng, seed)
    vacuum_analyze(seed)
    seed.seconds["total"] = round(time.perf_counter() - seed_started, 1)
    print_seed(args, seed)

    viewers = {"coordinator": coordinator.id, "responder": responder.id}
    phases = build_phases(args, page_cases)
    expect = expected_answers(app, viewers, phases, page_cases)
    port = harness.free_port()
    print(
        f"\ngunicorn: {args.workers} sync workers; {args.clients} clients per phase; "
        f"{args.warmup:g} s warm-up + {args.duration:g} s measured per phase; {os.cpu_count()} CPUs",
        flush=True,
    )
    results: dict[str, tuple[Tally, float, dict[str, float]]] = {}
    options = harness.ServerOptions(args.workers)
    with harness.gunicorn(options, setup.env, setup.workdir, port, "/staff/login") as server:
        workers = harness.worker_pids(server.pid)
        cookies = {"coordinator": sign_in(port, coordinator), "responder": sign_in(port, responder)}
        for n, phase in enumerate(phases, start=1):
            jar = cookies[phase.account]
            warm, _ = run_phase(port, phase, jar, expect, args.clients, args.warmup, False, n)
            if warm.errors:
                results[phase.key] = (warm, 0.0, {})
                break
            before = harness.cpu_snapshot(workers)
            tally, elapsed = run_phase(port, phase, jar, expect, args.clients, args.duration, True, n + 100)
            cpu = cpu_per_request(before, harness.cpu_snapshot(workers), len(tally.latencies), elapsed)
            results[phase.key] = (tally, elapsed, cpu)
            print(f"  {phase.title}: {len(tally.latencies)} requests in {elapsed:.1f} s", flush=True)
            if tally.errors:
                break
    app_errors = harness.app_log_errors(setup.workdir)
    return report(args, seed, phases, results, app_errors)


def print_seed(args: argparse.Namespace, seed: SeedReport) -> None:
    s = seed.seconds
    print(
        f"seeded {seed.bulk_cases + seed.service_cases:,} cases in {s['total']} s "
        f"(staff {s['staff']} s, generate+seal {s['bulk_generate']} s, COPY {s['bulk_copy']} s, "
        f"services {s['service_cases']} s, VACUUM ANALYZE {s['vacuum_analyze']} s):"
    )
    print(
        f"  {seed.bulk_cases:,} bulk-loaded with COPY in the stored format: own data key each, wrapped by the "
        f"KEK; report sealed (AES-GCM; narrative median {seed.narrative_median_chars} chars, 60-8,000); "
        f"contact sealed for ~25%; real blind indexes; {seed.consent_records:,} consent records; "
        f"{seed.audit_entries:,} audit entries in a valid hash chain; no messages or notes"
    )
    print(
        f"  {seed.service_cases} through the real services (intake.submit_report, assign, acknowledge, "
        f"in progress): {NARRATIVE_CHARS:,}-char narrative, contact details, {PAGE_CASE_MESSAGES} messages "
        f"each ({seed.messages} in all), 2 notes each"
    )
    print(f"  statuses {seed.statuses}; levels {seed.levels}")
    loads = seed.caseloads
    print(
        f"  {len(loads)} assignees: largest caseloads {loads[:4]}, smallest {loads[-3:]}; "
        f"unassigned {args.cases - sum(loads):,}"
    )
    print(f"  sizes MB (with indexes and TOAST): {seed.table_mb}", flush=True)


# ---------------------------------------------------------------------------- results


def cpu_per_request(
    before: dict[str, float], after: dict[str, float], requests: int, elapsed: float
) -> dict[str, float]:
    """CPU milliseconds per request by party (the machine as a whole left out), and how
    many CPUs were busy."""
    used = harness.cpu_used(before, after)
    out = {f"{k}_ms": round(1000 * v / requests, 2) if requests else 0.0 for k, v in used.items() if k != "machine"}
    out["machine_busy_cores"] = round(used["machine"] / elapsed, 2) if elapsed else 0.0
    return out


COLUMNS = (
    harness.Column("phase", 34),
    harness.Column("requests", 9),
    harness.Column("per s", 8, ".1f"),
    harness.Column("p50 ms", 8, ".1f"),
    harness.Column("p95 ms", 8, ".1f"),
    harness.Column("p99 ms", 8, ".1f"),
    harness.Column("app CPU", 9, ".1f"),
    harness.Column("pg CPU", 8, ".1f"),
    harness.Column("other", 7, ".1f"),
)


def report(
    args: argparse.Namespace,
    seed: SeedReport,
    phases: list[Phase],
    results: dict[str, tuple[Tally, float, dict[str, float]]],
    app_errors: list[str],
) -> int:
    """Print the table and the targets, then the JSON line;
    returns the exit status."""
    figures: dict[str, Any] = {
        "bench": "staff_pages",
        "cases": args.cases,
        "clients": args.clients,
        "duration_s": args.duration,
        "gunicorn": {"workers": args.workers, "worker_class": "sync"},
        "cpus": os.cpu_count(),
        "seed": {
            "seconds": seed.seconds,
            "bulk_cases_copy": seed.bulk_cases,
            "service_cases": seed.service_cases,
            "messages": seed.messages,
            "consent_records": seed.consent_records,
            "audit_entries": seed.audit_entries,
            "statuses": seed.statuses,
            "largest_caseload": seed.caseloads[0] if seed.caseloads else 0,
            "table_mb": seed.table_mb,
        },
        "phases": {},
    }
    errors = 0
    table: list[tuple[object, ...]] = []
    titles = {p.key: p for p in phases}
    for key, (tally, elapsed, cpu) in results.items():
        errors += tally.errors
        if not elapsed:
            continue
        row = harness.summary(tally.latencies, elapsed)
        entry: dict[str, Any] = {**row, "cpu_ms_per_request": cpu, "retries": tally.reconnects}
        table.append(
            (
                titles[key].title,
                row["requests"],
                row["per_s"],
                row["p50_ms"],
                row["p95_ms"],
                row["p99_ms"],
                cpu["gunicorn_ms"],
                cpu["postgres_ms"],
                cpu["other_ms"],
            )
        )
        if len(tally.by_path) > 1 and titles[key].kind == "queue":
            entry["by_path"] = {}
            for path, values in sorted(tally.by_path.items()):
                sub = harness.summary(values, elapsed)
                # Indented under its phase, with no rate of its own.
                table.append((f"  {path}", sub["requests"], None, sub["p50_ms"], sub["p95_ms"], sub["p99_ms"]))
                entry["by_path"][path] = {k: sub[k] for k in ("requests", "p50_ms", "p95_ms", "p99_ms")}
        figures["phases"][key] = entry
    print()
    harness.print_table(COLUMNS, table)
    print(
        "(app CPU, pg CPU, other: CPU milliseconds per request used by the gunicorn workers, by\n"
        " PostgreSQL, and by every other process on the machine except these clients)"
    )
    noisy = [k for k, (_, elapsed, cpu) in results.items() if elapsed and cpu["other_ms"] > 0.25 * cpu["gunicorn_ms"]]
    if noisy:
        print(
            f"WARNING: other processes used much CPU during {', '.join(noisy)}: those latencies are "
            f"higher than on a quiet machine with {os.cpu_count()} CPUs"
        )
    figures["noisy_phases"] = noisy

    figures["errors"] = errors
    figures["log_errors"] = len(app_errors)
    status = 0
    phase_figures = figures["phases"]
    queue_keys = [p.key for p in phases if p.kind == "queue"]
    trivial = phase_figures.get("trivial", {})
    case = phase_figures.get("case_page", {})
    if all(k in phase_figures for k in queue_keys) and case and trivial:
        worst_key = max(queue_keys, key=lambda k: phase_figures[k]["p95_ms"])
        queue_p95 = phase_figures[worst_key]["p95_ms"]
        queue_ok = queue_p95 < TARGET_QUEUE_P95_MS
        case_ok = case["p95_ms"] < TARGET_CASE_P95_MS
        figures["targets"] = {
            "queue_p95_max_ms": TARGET_QUEUE_P95_MS,
            "case_p95_max_ms": TARGET_CASE_P95_MS,
            "queue_worst_phase": worst_key,
            "queue_worst_p95_ms": queue_p95,
            "case_p95_ms": case["p95_ms"],
            "trivial_p95_ms": trivial["p95_ms"],
            "queue_met": queue_ok,
            "case_met": case_ok,
            "met": queue_ok and case_ok,
        }
        print()
        print(
            f"queue p95, worst phase ({titles[worst_key].title}) = {queue_p95} ms "
            f"(target < {TARGET_QUEUE_P95_MS:g} ms; trivial page p95 {trivial['p95_ms']} ms): "
            f"{'met' if queue_ok else 'MISSED'}"
        )
        for key in queue_keys:
            if phase_figures[key]["p95_ms"] >= TARGET_QUEUE_P95_MS:
                print(f"  MISSED: {titles[key].title}: p95 {phase_figures[key]['p95_ms']} ms")
        print(
            f"case page p95 = {case['p95_ms']} ms (target < {TARGET_CASE_P95_MS:g} ms; trivial page p95 "
            f"{trivial['p95_ms']} ms): {'met' if case_ok else 'MISSED'}"
        )
        if not (queue_ok and case_ok):
            status = 2
    else:
        status = 1
    samples = {key: tally.samples for key, (tally, _, _) in results.items()}
    return harness.finish(figures, status, errors, app_errors, samples)


if __name__ == "__main__":
    sys.exit(main())
