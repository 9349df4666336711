"""Staff pages benchmark: the case queue, a case's page and search through gunicorn on PostgreSQL,
with 100,000 cases over three years: 20 made through the services (5,000-character narrative, 20
messages, 2 notes), the rest cloned in SQL from two more, one in ten open ones with a reporter's
message unread; one responder has 5,000. Per phase, Locust users (bench/load.py) signed in through
the real form GET its pages or search (by reference and by receipt), every answer checked against
the service. Targets p95: queue < 100 ms, case page < 30 ms, search < 30 ms. Exit 0 met, 1 errors,
2 missed. `.venv/bin/python bench/staff_pages.py` (--cases, --duration, --users, --workers)"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyotp
from flask import current_app, request
from sqlalchemy import text

from app.cases.consent import CONTACT_PURPOSES, PURPOSES, SEAL_PURPOSE
from app.cases.content import ContactDetails
from app.casework import services, views
from app.extensions import db
from app.intake import services as intake
from app.keystore import current_keyring
from app.vocabulary import CLOSE_REASONS, COUNTIES, QUEUE_RANK
from bench import harness
from tests import factories

TARGET_QUEUE_P95_MS, TARGET_CASE_P95_MS, TARGET_SEARCH_P95_MS = 100.0, 30.0, 30.0
BIG_CASELOAD, PAGE_CASES, MESSAGES, DEEP_PAGE = 5_000, 20, 20, 1000  # the last: the coordinator's
WARMUP_S = 2
BASE_URL = "https://localhost"  # for the test client, so that Secure cookies come back
PAGE_REPORT: dict[str, Any] = {"perpetrator": "client", "setting": "clinic", "wants": ("peer", "licensing")}
PAGE_REPORT["consent"] = {"legal_referral": True, "contact_email": True, "contact_text": True}
PAGE_REPORT["contact"] = CONTACT = ContactDetails("Page Reporter", "reporter@example.org", "860-555-0101", "Evenings")
RESPONDERS = "Ash Oak Elm Fir Yew Ivy Bay Box Fig Lime Pine Teak Sage Rue Heath Reed Moss Fern Iris Wren"  # pseudonyms
STATUSES = ["new", "acknowledged", "in_progress", "referred", "closed", "reopened"]
# Under so many days old: where each status's share of cases (0..1) ends, but the last's.
STATUS_BY_AGE = {1: [.45, .8, 1, 1, 1], 7: [.02, .27, .82, .87, 1], 60: [0, .05, .45, .55, .98],
                 365: [0, 0, .06, .12, .98], 9999: [0, 0, .01, .03, .995]}  # fmt: skip
ENDS = " ".join(f"WHEN age < {age} THEN ARRAY{ends}" for age, ends in STATUS_BY_AGE.items())
PICK = "CREATE FUNCTION pg_temp.pick(a text[]) RETURNS text RETURN a[width_bucket(random(), 0, 1, cardinality(a))]"
# Clones keep their template's sealed report and contact, data key, is_named and signals (no page
# decrypts one); ids, receipt and submission indexes, and all the queue shows or sorts by are drawn
# anew (each subquery what the next needs; levels roughly as app.triage.scoring gives). Then their
# consent, stored as record_initial_consent does: a way to be contacted as a keyed index, its
# HMAC-SHA256 (RFC 2104) spelled out with sha256(). No audit entries: the queue does not read them.
CLONE = f"""WITH clones AS (INSERT INTO cases SELECT p.* FROM (SELECT *,
    row_number() OVER (ORDER BY assigned_at IS NULL, random()) AS nth
 FROM (SELECT *, CASE WHEN status <> 'new' OR random() < .6
     THEN least(created + (1 + 44 * random()) * interval '1 min', acked, now()) END AS assigned_at
  FROM (SELECT *, CASE WHEN status <> 'new' THEN least(now(), created + (.05 + 1.35 * random()) * ack) END AS acked
   FROM (SELECT *, (CAST(:ack_hours AS int[]))[level + 1] * interval '1 h' AS ack
    FROM (SELECT t, category, (ARRAY{STATUSES})[1 + width_bucket(u, CASE {ENDS} END)] AS status,
        date_trunc('minute', now() - age * interval '1 day' - random() * interval '1 h') AS created,
        CASE WHEN r < .03 THEN 0 WHEN r < .11 OR category = 'other' THEN 3 WHEN category = 'exploitation'
          OR r < CASE WHEN category IN ('rape', 'sexual_assault') THEN .555 ELSE .2 END THEN 1 ELSE 2 END AS level
     FROM (SELECT c AS t, 1095 * power(random(), 1.3) AS age, random() AS u, random() AS r,
         pg_temp.pick(:categories) AS category FROM cases c
       CROSS JOIN generate_series(1, CASE WHEN c.is_named THEN :named ELSE :anonymous END)
       WHERE c.id = ANY(:templates)) a) b) d) e) g) f,
 LATERAL jsonb_populate_record(t, jsonb_build_object('id', gen_random_uuid(), 'status', status, 'category', category,
  'level', level, 'queue_rank', CAST(:ranks AS jsonb) -> status, 'created_at', created, 'ack_due_at', created + ack,
  'acknowledged_at', acked, 'feedback_due_at', created + :feedback_days * interval '1 day', 'assigned_at', assigned_at,
  'assigned_to_id', CASE WHEN assigned_at IS NULL THEN NULL WHEN nth <= :big_share THEN :big ELSE pg_temp.pick(:others)
    END, 'routing_state', CASE WHEN assigned_at IS NULL THEN 'coordinators' ELSE 'assigned' END,
  'county', pg_temp.pick(:counties), 'language', pg_temp.pick('{{en,en,en,en,es}}'), 'receipt_index',
    '\\x' || encode(sha256(uuid_send(gen_random_uuid())), 'hex'), 'important', random() < CASE status WHEN 'closed'
    THEN .01 ELSE .04 END, 'closed_reason', CASE status WHEN 'closed' THEN pg_temp.pick(:reasons) END,
  'submission_index', '\\x' || encode(sha256(uuid_send(gen_random_uuid())), 'hex'),
  'reporter_unread', status NOT IN ('referred', 'closed') AND random() < .1)) p RETURNING *)
INSERT INTO consent_records (case_id, purpose, recipient, granted, sealed_choice, recorded_at, source)
SELECT id, purpose, '', choice AND NOT contact, CASE WHEN contact THEN sha256(:outer || sha256(:inner
  || convert_to(id || '|' || purpose || '|' || CASE WHEN choice THEN 'True' ELSE 'False' END, 'UTF8'))) END,
  created_at, 'intake'
FROM (SELECT c.id, c.created_at, p AS purpose, p = ANY(:contact) AS contact,
    p = 'peer_support' OR (c.is_named OR p = 'legal_referral') AND random() < .5 AS choice
  FROM clones c CROSS JOIN unnest(CAST(:purposes AS text[])) p) s"""


def seed(cases: int, rng: random.Random) -> tuple[dict[str, factories.Staff], list[tuple[str, str, str]]]:
    """Staff and cases; returns the accounts to sign in, and the case-page cases (id, a text
    shown, the receipt)."""
    coordinator, other = (factories.make_staff("coordinator", name=n) for n in ("Casey Heron", "Dana Otter"))
    staff = [factories.make_staff(name=f"Responder {i:02d}", pseudonym=p) for i, p in enumerate(RESPONDERS.split())]
    big, by, page_cases = staff[0].user, coordinator.user, []
    for n in range(PAGE_CASES):
        marker = f"BENCHCASE{n:02d}X{rng.getrandbits(32):08x}"
        narrative = f"{marker} {harness.story(rng, 'en', 5_000)}"[:5_000]
        case = factories.make_case(category=rng.choice([*harness.CATEGORY_WEIGHTS]), narrative=narrative, **PAGE_REPORT)
        services.assign(by, case, big.id)
        services.acknowledge(big, case)
        services.change_status(big, case, "in_progress")
        for k in range(MESSAGES):
            body = harness.story(rng, "en", rng.randint(120, 700))
            services.message_reporter(big, case, body) if k % 2 else intake.add_reporter_message(case.id, body)
        for _ in range(2):
            services.add_note(big, case, harness.story(rng, "en", rng.randint(100, 400)))
        page_cases.append((case.id, marker, case.receipt))  # type: ignore[attr-defined]
    templates = [factories.make_case(narrative=harness.story(rng, "en", 700), contact=c).id for c in (None, CONTACT)]
    clones, triage = cases - PAGE_CASES - len(templates), current_app.config["CONFIDE"].triage
    others = [s.id for s in staff[1:] for _ in range(rng.randint(7, 13))] + [coordinator.id, other.id]  # caseloads vary
    key = current_keyring().derive(f"blind-index/{SEAL_PURPOSE}").ljust(64, b"\0")
    clone: dict[str, Any] = {name: bytes(b ^ pad for b in key) for name, pad in (("inner", 0x36), ("outer", 0x5C))}
    clone |= dict(named=clones // 4, anonymous=clones - clones // 4, templates=templates, ranks=json.dumps(QUEUE_RANK))
    clone |= dict(counties=[*COUNTIES] * 7 + [None] * 3 * len(COUNTIES), others=others, reasons=[*CLOSE_REASONS])
    clone |= dict(ack_hours=[*triage.ack_hours], feedback_days=triage.feedback_days, contact=[*CONTACT_PURPOSES])
    clone |= dict(big=big.id, big_share=BIG_CASELOAD - PAGE_CASES, purposes=[*PURPOSES])  # 20 have the case pages
    weights = harness.CATEGORY_WEIGHTS  # as many of each category as its weight, to draw from
    db.session.execute(text(PICK))
    db.session.execute(text(CLONE), clone | {"categories": [c for c, w in weights.items() for _ in range(w)]})
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return {"coordinator": coordinator, "responder": staff[0]}, page_cases


def sign_in(staff: factories.Staff) -> dict[str, str]:
    """The session cookie of a sign-in through the real two-step form."""
    with current_app.app_context():  # a g of its own, as each request to gunicorn has
        client, steps = current_app.test_client(), {"email": staff.user.email, "password": factories.PASSWORD}
        for path in ("/staff/login", "/staff/login/code"):
            form = steps | harness.hidden_fields(client.get(path, base_url=BASE_URL).text)
            answer = client.post(path, base_url=BASE_URL, data=form, headers={"Referer": BASE_URL + path})  # for CSRF
            steps = {"code": pyotp.TOTP(staff.secret).now()}  # a fresh account's current code: accepted once
        if answer.location != "/cases" or (cookie := client.get_cookie("confide", "localhost")) is None:
            raise SystemExit(f"sign-in of {staff.user.email}: {answer.status_code} to {answer.location}")
        return {"confide": cookie.value}


def queue_texts(staff: factories.Staff, path: str) -> list[Any]:
    """What the service itself gives for a queue path, for every answer to be checked against."""
    with current_app.test_request_context(path):
        result = services.queue_page(staff.user, views._filters(), request.args.get("page", 1, type=int))
    texts = [f"{result.total} case", 'id="queue"', *(f'href="/cases/{row.id}"' for row in result.rows)]
    texts += [f"Page {result.page} of {result.pages}"] if result.pages > 1 else []
    texts += ['class="unread"'] if any(row.unread for row in result.rows) else []
    return [*texts, ['<span class="small">#', len(result.rows)]]  # once a row, with its reference


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=2, help="one per worker: latency without queueing for one")
    parser.add_argument("--duration", type=int, default=10, help="seconds measured per phase, after a warm-up")
    parser.add_argument("--workers", type=int, default=2)
    args, phases, errors = parser.parse_args(), {}, []
    if args.cases < 2 * BIG_CASELOAD:
        parser.error(f"at least {2 * BIG_CASELOAD} cases")
    with harness.bench_setup("staff_pages", 11, harness.UNLIMITED, in_process=True) as setup:
        started = time.perf_counter()
        staff, page_cases = seed(args.cases, random.Random(7))
        print(f"seeded {args.cases:,} cases in {(seed_s := round(time.perf_counter() - started, 1))} s", flush=True)
        cookies = {role: sign_in(account) for role, account in staff.items()}
        expect = {f"/cases/{c}": ['id="narrative"', m, ['class="message from-', MESSAGES]] for c, m, _ in page_cases}
        searches = {f"#{c[:8]}": c for c, _, _ in page_cases} | {r: c for c, _, r in page_cases}
        expect["/staff/profile"], deep = ["Your profile", ["Sign out (", 1]], BIG_CASELOAD // 50 // 2
        filters = ("level=1", "status=new", "category=exploitation&language=es", "status=in_progress&level=2")
        plan = {  # key: title, whose session, paths
            "trivial": ("trivial /staff/profile", "coordinator", ["/staff/profile"]),
            "queue_first": ("queue, coordinator, page 1", "coordinator", ["/cases"]),
            "queue_deep": (f"queue, coordinator, page {DEEP_PAGE}", "coordinator", [f"/cases?page={DEEP_PAGE}"]),
            "queue_filtered": ("queue, coordinator, 4 filters", "coordinator", [f"/cases?{f}" for f in filters]),
            "responder_first": ("queue, responder, page 1", "responder", ["/cases"]),
            "responder_deep": (f"queue, responder, page {deep}", "responder", [f"/cases?page={deep}"]),
            "case_page": ("case page (5 KB + 20 msgs)", "coordinator", [p for p in expect if p.startswith("/cases/")]),
            "search": ("search, reference or receipt", "coordinator", ["/cases"]),
            "trivial_end": ("trivial /staff/profile again", "coordinator", ["/staff/profile"]),
        }
        with harness.gunicorn(setup, args.workers) as (port, pids):
            for key, (_, role, paths) in plan.items():
                answers = {p: expect.get(p) or queue_texts(staff[role], p) for p in paths}
                env = {"CONFIDE_BENCH_COOKIES": json.dumps(cookies[role]), "CONFIDE_BENCH_PATHS": json.dumps(answers)}
                env["CONFIDE_BENCH_SEARCHES"], user = json.dumps(searches), "Search" if key == "search" else "Staff"
                errors += harness.locust(port, user, args.users, WARMUP_S, **env)["failed"]["samples"]
                before = harness.cpu_snapshot(pids)
                run = harness.locust(port, user, args.users, args.duration, **env)
                others, app = harness.other_cpu(before, harness.cpu_snapshot(pids))
                errors += run["failed"]["samples"]
                phases[key] = run["all"] | {"noisy": others > app / 4}
        titles = ["phase", "requests", "failures", "per s", "p50 ms", "p95 ms", "p99 ms", "others' CPU"]
        harness.table(titles, [[plan[key][0], *phase.values()] for key, phase in phases.items()])
        worst = max((k for k in phases if "queue" in plan[k][0]), key=lambda k: phases[k]["p95_ms"])
        queue, case, found, trivial = (phases[k]["p95_ms"] for k in (worst, "case_page", "search", "trivial"))
        met = {"queue": queue < TARGET_QUEUE_P95_MS, "case": case < TARGET_CASE_P95_MS}
        met["search"] = found < TARGET_SEARCH_P95_MS
        print(f"\nqueue p95, worst phase ({plan[worst][0]}) = {queue} ms (target < {TARGET_QUEUE_P95_MS:g})")
        print(f"case page p95 = {case} ms (target < {TARGET_CASE_P95_MS:g}); trivial page p95 {trivial} ms")
        print(f"search p95 = {found} ms (target < {TARGET_SEARCH_P95_MS:g})")
        print("; ".join(f"{what}: {'met' if ok else 'MISSED'}" for what, ok in met.items()))
        targets = {"queue_p95_max_ms": TARGET_QUEUE_P95_MS, "case_p95_max_ms": TARGET_CASE_P95_MS, "met": met}
        targets |= dict(search_p95_max_ms=TARGET_SEARCH_P95_MS, search_p95_ms=found)
        targets |= dict(queue_worst_phase=worst, queue_worst_p95_ms=queue, case_p95_ms=case, trivial_p95_ms=trivial)
        figures = {"bench": "staff_pages", "cases": args.cases, "users": args.users, "workers": args.workers}
        figures |= dict(duration_s=args.duration, cpus=os.cpu_count(), seed_s=seed_s, phases=phases, targets=targets)
        return harness.finish(figures, 0 if all(met.values()) else 2, errors, setup.workdir)


if __name__ == "__main__":
    sys.exit(main())
