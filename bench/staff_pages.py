"""Staff pages benchmark: the case queue and a case's page through gunicorn (2 sync workers)
on PostgreSQL, with 100,000 cases over three years. `.venv/bin/python bench/staff_pages.py`

All but 20 cases are bulk-loaded with COPY in the stored format (own data key, report sealed,
real blind indexes, consent records, audit entries in one hash chain); 20 are made through
the real services, each with a 5,000-character narrative, 20 messages and 2 notes. One of 20
responders has 5,000 cases. Each phase, signed-in clients GET its pages in a closed loop and
every answer is checked against what the service gives; /staff/profile, first and last, is
the baseline. Targets: every queue phase p95 < 100 ms, the case page p95 < 30 ms. Exit 0 met,
1 errors, 2 missed.
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
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
import pyotp
from flask import g, request, session

from app import create_app
from app.audit.log import chain_key, entry_hash
from app.audit.models import GENESIS
from app.cases.consent import PURPOSES
from app.cases.content import ContactDetails, ReportContent
from app.cases.sealing import case_owner, seal_json
from app.casework import services, views
from app.crypto import wrap_dek
from app.extensions import db
from app.intake import services as intake
from app.keystore import current_keyring
from app.models import utcnow
from app.staff.models import StaffUser
from app.vocabulary import CLOSE_REASONS, COUNTIES, QUEUE_RANK
from bench import harness
from tests import factories

DATABASE = "confide_bench_queue"
REDIS_URL = os.environ.get("CONFIDE_BENCH_QUEUE_REDIS_URL", "redis://127.0.0.1:6379/11")
TARGET_QUEUE_P95_MS = 100.0
TARGET_CASE_P95_MS = 30.0
BIG_CASELOAD = 5_000
PAGE_CASES = 20
PAGE_CASE_MESSAGES = 20
NARRATIVE_CHARS = 5_000
CONFIG_TOML = """\
[rate_limits]
staff_login = "1000000 per minute"  # every client is 127.0.0.1
"""
# Status by the case's age in days: (up to age, {status: weight}).
STATUS_BY_AGE = [
    (1, {"new": 45, "acknowledged": 35, "in_progress": 20}),
    (7, {"new": 2, "acknowledged": 25, "in_progress": 55, "referred": 5, "closed": 13}),
    (60, {"acknowledged": 5, "in_progress": 40, "referred": 10, "closed": 43, "reopened": 2}),
    (365, {"in_progress": 6, "referred": 6, "closed": 86, "reopened": 2}),
    (math.inf, {"in_progress": 1, "referred": 2, "closed": 96.5, "reopened": 0.5}),
]
RESPONDERS = "Alder Birch Cedar Elm Fern Hazel Ivy Juniper Laurel Maple Olive Poplar Rowan Sage Tamarack Umber"
RESPONDERS += " Willow Yarrow Aspen Ember"  # their pseudonyms


def weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def text(rng: random.Random, chars: int, pool: list[str] = harness.SENTENCES) -> str:
    out = []
    while sum(len(s) + 1 for s in out) < chars:
        out.append(rng.choice(pool))
    return " ".join(out)[:chars].rstrip()


def level(rng: random.Random, category: str) -> tuple[int, list[str]]:
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


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    role: str
    secret: str


def make_staff(role: str, email: str, name: str, pseudonym: str) -> Account:
    """Enrolled and on duty (tests/factories.py); English, and Spanish for half of them."""
    languages = ("en", "es") if pseudonym[0] in "AEIOU" else ("en",)
    made = factories.make_staff(role, email=email, name=name, pseudonym=pseudonym, languages=languages, caseload_cap=25)
    return Account(made.id, email, role, made.secret)


def seed_bulk(app: Any, count: int, staff: list[Account], big: Account, big_share: int, rng: random.Random) -> None:
    """``count`` cases in the stored format, with their consent records and audit entries,
    loaded with COPY; ``big_share`` of them assigned to ``big``."""
    ring, triage, now = current_keyring(), app.config["CONFIDE"].triage, utcnow()
    receipt_key, submission_key = ring.derive("blind-index/receipt"), ring.derive("blind-index/submission")
    coordinators = [s for s in staff if s.role == "coordinator"]
    # Caseloads differ: long-serving and part-time responders; coordinators take a few.
    others = [s for s in staff if s.role == "responder" and s.id != big.id]
    weights = [rng.lognormvariate(0, 0.35) for _ in others] + [0.1 for _ in coordinators]
    others += coordinators
    cases: list[dict[str, Any]] = []
    consents: list[tuple[Any, ...]] = []
    for i in range(count):
        case_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        age_days = 1095 * rng.random() ** 1.3
        created = now - timedelta(days=age_days, seconds=rng.randint(0, 3600))
        category = weighted(rng, harness.CATEGORY_WEIGHTS)
        case_level, signals = level(rng, category)
        status = weighted(rng, next(w for limit, w in STATUS_BY_AGE if age_days < limit))
        language, named = "es" if rng.random() < 0.2 else "en", rng.random() < 0.25
        ack_hours = triage.ack_hours[case_level]
        acknowledged = created + timedelta(hours=ack_hours * rng.uniform(0.05, 1.4)) if status != "new" else None
        assigned_at = None
        if status != "new" or rng.random() < 0.6:
            assigned_at = created + timedelta(minutes=rng.uniform(1, 45))
            assigned_at = min(assigned_at, acknowledged or assigned_at)
        updated = max(t for t in (created, assigned_at, acknowledged) if t is not None)
        if status not in ("new", "acknowledged"):
            updated = min(now, updated + timedelta(days=rng.uniform(0.1, 40)))
        closed_reason = rng.choice(list(CLOSE_REASONS)) if status == "closed" else None
        important = rng.random() < (0.01 if status == "closed" else 0.04)
        # Only the narrative's length matters here: no page decrypts a bulk-loaded case.
        narrative = text(rng, int(min(8000, max(60, rng.lognormvariate(math.log(700), 0.8)))))
        content = ReportContent(narrative, "client", "clinic", "month", "yes" if case_level == 0 else "no", "no", "yes")
        dek = os.urandom(32)
        wrapped = wrap_dek(ring, dek, owner=case_owner(case_id))
        contact = None
        if named:
            details = ContactDetails(f"Reporter {i}", f"reporter{i}@example.org", "860-555-0100", "After 6 pm", "no")
            contact = seal_json(dek, asdict(details), record="case", record_id=case_id, field="contact")
        receipt = f"{secrets.randbelow(10**20):020d}".encode()
        county = rng.choice(list(COUNTIES)) if rng.random() < 0.7 else None
        queued = created + timedelta(seconds=rng.uniform(0.2, 5))
        # fmt: off
        cases.append({
            "id": case_id, "created_at": created, "updated_at": updated, "queued_at": queued,
            "category": category, "level": case_level, "signals": json.dumps(signals), "language": language,
            "county": county, "is_named": named, "status": status, "queue_rank": QUEUE_RANK[status],
            "routing_state": "awaiting_assignment", "ack_due_at": created + timedelta(hours=ack_hours),
            "feedback_due_at": created + timedelta(days=triage.feedback_days),
            "assigned_to_id": None, "assigned_at": assigned_at, "acknowledged_at": acknowledged,
            "important": important, "closed_reason": closed_reason,
            "receipt_index": hmac.new(receipt_key, receipt, hashlib.sha256).digest(),
            "submission_index": hmac.new(submission_key, secrets.token_bytes(16), hashlib.sha256).digest(),
            "dek_scheme": wrapped.scheme, "dek_key_id": wrapped.key_id, "dek_wrapped": wrapped.blob,
            "report_sealed": seal_json(dek, asdict(content), record="case", record_id=case_id, field="report"),
            "contact_sealed": contact,
        })
        # fmt: on
        # Peer support always; legal referral now and then; the others only with contact details.
        for purpose in PURPOSES:
            granted = purpose == "peer_support" or (named or purpose == "legal_referral") and rng.random() < 0.5
            consents.append((case_id, purpose, "", granted, created, "intake"))

    # Assignees, and what the audit log says of them: exactly ``big_share`` to ``big``.
    assigned = [case for case in cases if case["assigned_at"] is not None]
    big_cases = {case["id"] for case in rng.sample(assigned, big_share)}
    events: list[tuple[Any, ...]] = []
    for case in assigned:
        owner = big if case["id"] in big_cases else rng.choices(others, weights=weights)[0]
        case["assigned_to_id"] = owner.id
        case_id, created, status, updated = case["id"], case["created_at"], case["status"], case["updated_at"]
        assignment = {"to": owner.id, "previous": None}
        events.append(
            (case["assigned_at"], rng.choice(coordinators).id, "coordinator", "case_assigned", case_id, assignment)
        )
        if case["acknowledged_at"] is not None:
            events.append((case["acknowledged_at"], owner.id, owner.role, "case_acknowledged", case_id, {}))
        if status not in ("new", "acknowledged"):
            change = {"old": "acknowledged", "new": status, "reason": case["closed_reason"]}
            events.append((updated, owner.id, owner.role, "case_status_changed", case_id, change))
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            seen = created + (min(now, updated + timedelta(days=1)) - created) * rng.random()
            shown = {"contact_shown": case["is_named"], "report_shown": True}
            events.append((seen, owner.id, owner.role, "case_viewed", case_id, shown))
    events.sort(key=lambda e: e[0])
    # Chained exactly as app.audit.log.append chains entries: its own key and function.
    audit: list[tuple[Any, ...]] = []
    prev, key = GENESIS, chain_key()
    names = ("at", "actor_id", "actor_role", "action", "case_id", "detail")
    for entry_id, event in enumerate(events, start=1):
        entry = SimpleNamespace(id=entry_id, prev_hash=prev, **dict(zip(names, event, strict=True)))
        digest = entry_hash(key, entry)  # type: ignore[arg-type]
        audit.append((entry_id, *event[:5], json.dumps(event[5]), prev, digest))
        prev = digest

    tables = [("cases", list(cases[0]), [list(c.values()) for c in cases])]
    tables.append(
        ("consent_records", ["case_id", "purpose", "recipient", "granted", "recorded_at", "source"], consents)
    )
    tables.append(("audit_log", ["id", *names, "prev_hash", "hash"], audit))
    with psycopg.connect(harness.pg_url(DATABASE, "postgresql")) as conn, conn.cursor() as cur:
        for table, columns, rows in tables:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        cur.execute("UPDATE audit_head SET last_id = %s, last_hash = %s WHERE id = 1", (len(audit), prev))


def seed_page_cases(coordinator: Account, responder: Account, rng: random.Random) -> list[tuple[str, str]]:
    """The cases the case-page phase opens, made through the real services: (id, marker)."""
    made = []
    for n in range(PAGE_CASES):
        marker = f"BENCHCASE{n:02d}X{secrets.token_hex(4)}"
        case = factories.make_case(
            category=rng.choice(["sexual_harassment", "practitioner_violation", "exploitation", "threats"]),
            narrative=(f"{marker} " + text(rng, NARRATIVE_CHARS))[:NARRATIVE_CHARS],
            contact=ContactDetails(f"Page Reporter {n}", f"page{n}@example.org", "860-555-0101", "Evenings", "no"),
            consent={"legal_referral": True, "contact_email": True, "contact_text": True},
            perpetrator="client",
            setting="clinic",
            wants=("peer", "licensing"),
        )
        by, to = db.session.get(StaffUser, coordinator.id), db.session.get(StaffUser, responder.id)
        assert by is not None and to is not None
        services.assign(by, case, to.id)
        services.acknowledge(to, case)
        services.change_status(to, case, "in_progress")
        for k in range(PAGE_CASE_MESSAGES):
            body = text(rng, rng.randint(120, 700))
            if k % 2 == 0:
                intake.add_reporter_message(case.id, body)
            else:
                services.message_reporter(to, case, body)
        for _ in range(2):
            services.add_note(to, case, text(rng, rng.randint(100, 400)))
        made.append((case.id, marker))
        db.session.remove()
    return made


def sign_in(port: int, account: Account) -> dict[str, str]:
    """Sign in through the real two-step form; returns the session's cookie jar."""
    browser = harness.Browser(port)
    try:
        _, page = browser.request("GET", "/staff/login")
        form = {**harness.hidden_fields(page), "email": account.email, "password": factories.PASSWORD}
        status, _ = browser.request("POST", "/staff/login", form)
        if status != 303 or "/staff/login/code" not in browser.location:
            raise SystemExit(f"sign-in of {account.email}: password step answered {status}")
        _, page = browser.request("GET", "/staff/login/code")
        # A fresh account has used no code yet: the current one is accepted once.
        form = {**harness.hidden_fields(page), "code": pyotp.TOTP(account.secret).now()}
        status, _ = browser.request("POST", "/staff/login/code", form)
        if status != 303 or "/cases" not in browser.location:
            raise SystemExit(f"sign-in of {account.email}: code step answered {status} -> {browser.location!r}")
        return dict(browser.cookies)
    finally:
        browser.close()


CASE_LINK_RE = re.compile(r'href="/cases/[0-9a-f-]{36}"')
MESSAGE_RE = re.compile(r'class="message from-')


# What a correct answer holds: these texts, and so many matches of a pattern.
Expect = tuple[tuple[str, ...], re.Pattern[str] | None, int]


@dataclass(frozen=True)
class Phase:
    key: str
    title: str
    kind: str  # trivial | queue | case
    account: str  # coordinator | responder
    expect: dict[str, Expect]  # by path


def queue_answers(app: Any, viewer_id: str, *paths: str) -> dict[str, Expect]:
    """What the service itself gives for each queue path (total, rows, page), to check every
    answer served under load against."""
    expect = {}
    for path in paths:
        with app.test_request_context(path):
            # Signed in as app.staff.sessions.current_staff would find them.
            viewer = db.session.get(StaffUser, viewer_id)
            session["staff"] = {"id": viewer.id, "epoch": viewer.session_epoch}
            g.staff_user = viewer
            page = request.args.get("page", "1")  # as app.casework.views.queue reads it
            result = services.queue_page(viewer, views._filters(), int(page) if page.isdigit() and len(page) < 7 else 1)
        contains = [f"{result.total} case", 'id="queue"'] + [f'href="/cases/{row.id}"' for row in result.rows]
        if result.pages > 1:
            contains.append(f"Page {result.page} of {result.pages}")
        expect[path] = (tuple(contains), CASE_LINK_RE, len(result.rows))
    return expect


def build_phases(
    app: Any, coordinator: str, responder: str, deep_page: int, page_cases: list[tuple[str, str]]
) -> list[Phase]:
    deep = BIG_CASELOAD // 50 // 2  # the responder's
    filters = ("level=1", "status=new", "category=exploitation&language=es", "status=in_progress&level=2")
    profile: dict[str, Expect] = {"/staff/profile": (("Your profile", "Sign out ("), None, 0)}
    cases = {f"/cases/{c}": (('id="narrative"', marker), MESSAGE_RE, PAGE_CASE_MESSAGES) for c, marker in page_cases}
    # fmt: off
    return [
        Phase("trivial", "trivial /staff/profile", "trivial", "coordinator", profile),
        Phase("queue_first", "queue, coordinator, page 1", "queue", "coordinator",
              queue_answers(app, coordinator, "/cases")),
        Phase("queue_deep", f"queue, coordinator, page {deep_page}", "queue", "coordinator",
              queue_answers(app, coordinator, f"/cases?page={deep_page}")),
        Phase("queue_filtered", "queue, coordinator, 4 filters", "queue", "coordinator",
              queue_answers(app, coordinator, *(f"/cases?{f}" for f in filters))),
        Phase("responder_first", "queue, responder, page 1", "queue", "responder",
              queue_answers(app, responder, "/cases")),
        Phase("responder_deep", f"queue, responder, page {deep}", "queue", "responder",
              queue_answers(app, responder, f"/cases?page={deep}")),
        Phase("case_page", "case page (5 KB + 20 msgs)", "case", "coordinator", cases),
        Phase("trivial_end", "trivial /staff/profile again", "trivial", "coordinator", profile),
    ]
    # fmt: on


def run_phase(
    port: int, phase: Phase, cookies: dict[str, str], clients: int, seconds: float, seed: int
) -> tuple[harness.Tally, float]:
    """The clients GET the phase's paths in turn, each from a different one, and check each answer."""

    def client_step(index: int, rng: random.Random) -> Callable[[harness.Browser, harness.Tally], None]:
        paths = itertools.islice(itertools.cycle(phase.expect), rng.randrange(len(phase.expect)), None)

        def step(browser: harness.Browser, tally: harness.Tally) -> None:
            path = next(paths)
            start = time.perf_counter()
            status, body = browser.request("GET", path)
            took = time.perf_counter() - start
            if status != 200:
                raise harness.ClientError(f"GET {path}: {status} {browser.location}")
            contains, pattern, count = phase.expect[path]
            missing = [t for t in contains if t not in body]
            found = len(pattern.findall(body)) if pattern else count
            if missing or found != count:
                raise harness.ClientError(f"GET {path}: {missing[:1]} missing, {found} of {count} rows or messages")
            tally.latencies.append(took)

        return step

    return harness.run_clients(port, clients, seconds, seed, client_step, cookies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    # One client per worker: latency as a responder meets it, without queueing for a worker.
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per phase")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--deep-page", type=int, default=1000, help="the coordinator's deep queue page")
    args = parser.parse_args()
    if args.cases < 2 * BIG_CASELOAD:
        parser.error(f"at least {2 * BIG_CASELOAD} cases")
    # SIGTERM ends the run like Ctrl-C, through the clean-up below and bench_setup's.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with harness.bench_setup(
        database=DATABASE,
        redis_url=REDIS_URL,
        queue_prefix="confide-bench-queue",
        config_toml=CONFIG_TOML,
        workdir_prefix="confide-bench-queue-",
    ) as setup:
        # The app in this process, configured exactly as gunicorn's.
        for key in [k for k in os.environ if k.startswith(("CONFIDE_", "FLASK_", "GUNICORN_"))]:
            del os.environ[key]
        os.environ.update({k: v for k, v in setup.env.items() if k.startswith(("CONFIDE_", "FLASK_"))})
        app = create_app()
        try:
            return run(args, app, setup)
        finally:
            with app.app_context():  # its connections go before bench_setup drops the database
                db.session.remove()
                db.engine.dispose()


def run(args: argparse.Namespace, app: Any, setup: harness.Setup) -> int:
    """Seed the database, run every phase through gunicorn, report."""
    rng = random.Random(7)
    print(f"seeding {args.cases:,} cases …", flush=True)
    started = time.perf_counter()
    with app.app_context():
        coordinator = make_staff("coordinator", "coordinator-bench@example.org", "Casey Coordinator", "Heron")
        staff = [coordinator, make_staff("coordinator", "coordinator-two@example.org", "Dana Coordinator", "Otter")]
        for i, pseudonym in enumerate(RESPONDERS.split()):
            staff.append(make_staff("responder", f"responder-{i:02d}@example.org", f"Responder {i:02d}", pseudonym))
        responder = staff[2]
        seed_bulk(app, args.cases - PAGE_CASES, staff, responder, BIG_CASELOAD - PAGE_CASES, rng)
        page_cases = seed_page_cases(coordinator, responder, rng)
    with psycopg.connect(harness.pg_url(DATABASE, "postgresql"), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    seed_s = round(time.perf_counter() - started, 1)
    print(f"seeded in {seed_s} s: {args.cases - PAGE_CASES:,} cases with COPY, {PAGE_CASES} through the services")
    with app.app_context():
        phases = build_phases(app, coordinator.id, responder.id, args.deep_page, page_cases)

    print(f"gunicorn: {args.workers} workers; {args.clients} clients; {args.warmup:g} + {args.duration:g} s a phase")
    measured: dict[str, dict[str, Any]] = {}
    tallies: dict[str, harness.Tally] = {}
    noisy = []
    port = harness.free_port()
    with harness.gunicorn(args.workers, setup.env, setup.workdir, port, "/staff/login") as workers:
        cookies = {"coordinator": sign_in(port, coordinator), "responder": sign_in(port, responder)}
        for n, phase in enumerate(phases, start=1):
            jar = cookies[phase.account]
            tallies[phase.key], _ = run_phase(port, phase, jar, args.clients, args.warmup, n)
            if tallies[phase.key].errors:
                break
            before = harness.cpu_snapshot(workers)
            tallies[phase.key], elapsed = run_phase(port, phase, jar, args.clients, args.duration, n + 100)
            used = harness.cpu_used(before, harness.cpu_snapshot(workers))
            measured[phase.key] = harness.summary(tallies[phase.key].latencies, elapsed)
            print(f"  {phase.title}: {measured[phase.key]['requests']} requests in {elapsed:.1f} s", flush=True)
            if used["other"] > 0.25 * used["gunicorn"]:
                noisy.append(phase.key)
            if tallies[phase.key].errors:
                break

    figures = {"bench": "staff_pages", "cases": args.cases, "clients": args.clients, "duration_s": args.duration}
    figures |= {"gunicorn": {"workers": args.workers, "worker_class": "sync"}, "cpus": os.cpu_count()}
    figures |= {"seed_s": seed_s, "phases": measured, "noisy_phases": noisy}
    return report(phases, figures, tallies, harness.app_log_errors(setup.workdir))


def report(
    phases: list[Phase], figures: dict[str, Any], tallies: dict[str, harness.Tally], app_errors: list[str]
) -> int:
    """The table and the targets, then the JSON line; returns the exit status."""
    titles, measured = {p.key: p.title for p in phases}, figures["phases"]
    columns = [harness.Column("phase", 34), harness.Column("requests", 9)]
    columns += [harness.Column(title, 8, ".1f") for title in ("per s", "p50 ms", "p95 ms", "p99 ms")]
    print()
    harness.print_table(columns, [(titles[key], *row.values()) for key, row in measured.items()])
    if figures["noisy_phases"]:
        print(f"WARNING: other processes used much CPU during {', '.join(figures['noisy_phases'])}: latencies too high")
    errors = sum(t.errors for t in tallies.values())
    figures |= {"errors": errors, "log_errors": len(app_errors)}
    status = 1
    queue = [p.key for p in phases if p.kind == "queue"]
    if all(key in measured for key in titles):
        worst = max(queue, key=lambda key: measured[key]["p95_ms"])
        queue_p95, case_p95, trivial_p95 = (measured[k]["p95_ms"] for k in (worst, "case_page", "trivial"))
        queue_ok, case_ok = queue_p95 < TARGET_QUEUE_P95_MS, case_p95 < TARGET_CASE_P95_MS
        figures["targets"] = {
            "queue_p95_max_ms": TARGET_QUEUE_P95_MS,
            "case_p95_max_ms": TARGET_CASE_P95_MS,
            "queue_worst_phase": worst,
            "queue_worst_p95_ms": queue_p95,
            "case_p95_ms": case_p95,
            "trivial_p95_ms": trivial_p95,
            "queue_met": queue_ok,
            "case_met": case_ok,
            "met": queue_ok and case_ok,
        }
        print(f"\nqueue p95, worst phase ({titles[worst]}) = {queue_p95} ms (target < {TARGET_QUEUE_P95_MS:g} ms)")
        print(f"case page p95 = {case_p95} ms (target < {TARGET_CASE_P95_MS:g} ms); trivial page p95 {trivial_p95} ms")
        print(f"queue: {'met' if queue_ok else 'MISSED'}; case page: {'met' if case_ok else 'MISSED'}")
        status = 0 if queue_ok and case_ok else 2
    return harness.finish(figures, status, errors, app_errors, {key: t.samples for key, t in tallies.items()})


if __name__ == "__main__":
    sys.exit(main())
