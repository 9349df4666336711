"""Referral packets to counsel: `.venv/bin/python bench/export.py [--quick]` (100, not 1,000).
The app in this process, as gunicorn's; --referrals reports through intake (--cjk of them in
Chinese or Korean), each handled and drafted a referral to one counsel. Times the first packet
PDFs of the process in each script and warm ones; send_referral for each draft; the bulk export
in one process and with the rendering processes `flask referrals export` uses, opened by counsel
and checked; the baseline: pyrage.encrypt alone of the same packets. Target: the export with
rendering processes makes at least 50 packets per second. Exit 0 met, 1 errors, 2 missed."""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyrage
from pyrage import x25519
from sqlalchemy import select

from app.cases.consent import current_consent
from app.cases.content import ContactDetails
from app.cases.models import Case
from app.casework import services as cases
from app.extensions import db
from app.referrals import export, packet, pdf
from app.referrals import services as referrals
from app.referrals.cli import default_jobs
from app.referrals.models import Referral
from app.staff.models import StaffUser
from bench import harness
from tests.factories import make_case, make_counsel, make_referral, make_staff

TARGET_PER_S = 50.0
NAMES = {"en": "Jennifer Walsh", "es": "María Fernández", "zh-Hans": "王秀英", "ko": "김지은"}
LABELLED = {"en": "en", "es": "es", "zh-Hans": "zh", "ko": "ko"}  # the sets' language codes


def seed(count: int, cjk: float, rng: random.Random) -> tuple[str, str, x25519.Identity, dict[str, str]]:
    """A coordinator, a responder, a counsel; ``count`` reports through intake, each assigned,
    acknowledged, in progress and drafted a referral. Returns the coordinator's id, the
    counsel's email and key, and each draft's language by its id."""
    coordinator, responder, counsel = (
        make_staff("coordinator"),
        make_staff("responder"),
        make_counsel(languages="en, es, zh, ko"),
    )
    languages = ["zh-Hans", "ko"] * max(1, round(count * cjk / 2))  # at least one of each
    languages += ["es"] * round((count - len(languages)) / 4)
    languages = ["en"] + rng.sample(languages + ["en"] * (count - len(languages) - 1), count - 1)
    drafts = {}
    for n, language in enumerate(languages):
        named = n % 2 == 1  # half are named, and let counsel see who they are
        case = make_case(
            category=harness.category(rng),
            narrative=harness.story(rng, LABELLED[language], rng.randint(1_200, 1_800)),
            language=language,
            contact=ContactDetails(NAMES[language], f"reporter{n}@example.org", "860-555-0147") if named else None,
            consent={"legal_referral": True, "identity_to_counsel": named, "contact_email": named},
            when=rng.choice(["72h", "week", "month", "year", "older"]),
            wants=("legal", *rng.sample(["peer", "licensing"], rng.randint(0, 2))),
        )
        cases.assign(coordinator.user, case, responder.id)
        cases.acknowledge(responder.user, case)
        cases.change_status(responder.user, case, "in_progress")
        drafts[make_referral(case, counsel, coordinator, send=False).id] = language
    found = coordinator.id, counsel.user.email, counsel.identity, drafts
    db.session.remove()
    return found


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def renders(drafts: dict[str, str]) -> dict[str, float]:
    """The process's first packet PDF in each script (each reads its fonts), then warm: median of 5."""
    documents = {}
    for language in ("en", "zh-Hans", "ko"):
        referral = db.session.get(Referral, next(r for r, tag in drafts.items() if tag == language))
        case = db.session.get(Case, referral.case_id) if referral else None
        assert referral is not None and case is not None
        consent = current_consent(case.id)  # the document as send_referral builds it
        identity = consent["identity_to_counsel"] and case.is_named
        documents[language] = packet.build_document(referral, case, consent=consent, identity=identity)
    figures = {f"first_{tag}_ms": timed(lambda d=d: pdf.render_packet_pdf(d)) * 1000 for tag, d in documents.items()}
    for tag, d in documents.items():
        warm = [timed(lambda d=d: pdf.render_packet_pdf(d)) for _ in range(5)]
        figures[f"warm_{tag}_ms"] = statistics.median(warm) * 1000
    db.session.remove()
    return {k: round(v, 1) for k, v in figures.items()}


def bulk(
    counsel: tuple[str, x25519.Identity], drafts: dict[str, str], out: Path, jobs: int, errors: list[str]
) -> float:
    """The bulk export with ``jobs`` rendering processes, timed, then opened as counsel would:
    every referral there with its files. Its packets per second."""
    took = timed(lambda: export.write_export(export.plan_export(counsel[0]), out, jobs=jobs))
    opened = pyrage.decrypt(out.read_bytes(), [counsel[1]])
    with zipfile.ZipFile(io.BytesIO(opened)) as archive:
        listed = {entry["id"] for entry in json.loads(archive.read("index.json"))["referrals"]}
        names = set(archive.namelist())
    files = ("README.txt", "packet.json", "packet.pdf")
    if {r for r in listed if all(f"referral-{r}/{f}" in names for f in files)} != set(drafts):
        errors.append(f"export with {jobs} process(es): not every referral whole")
    db.session.remove()
    return round(len(drafts) / took, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--referrals", type=int, help="referrals to send and export (1,000)")
    parser.add_argument("--cjk", type=float, default=0.34, help="share of reports in Chinese or Korean")
    args = parser.parse_args()
    count, errors = args.referrals or (100 if args.quick else 1_000), []
    config = 'languages = ["en", "es", "zh-Hans", "ko"]\n'  # the packet's CJK face follows the language
    with harness.bench_setup("export", 10, config, in_process=True) as setup:
        print(f"seeding {count:,} reports and draft referrals …", flush=True)
        coordinator, email, identity, drafts = seed(count, args.cjk, random.Random(7))
        figures: dict[str, Any] = {"bench": "export", "referrals": count, "cjk_share": args.cjk}
        figures["renders"] = renders(drafts)
        before, times = harness.cpu_snapshot(), []
        for referral_id in drafts:  # each in a session of its own, as a request has
            referral, by = db.session.get(Referral, referral_id), db.session.get(StaffUser, coordinator)
            times.append(timed(lambda r=referral, by=by: referrals.send_referral(by, r)))
            db.session.remove()
        figures["send"] = {"per_s": round(len(times) / sum(times), 1), **harness.percentiles(times)}
        jobs, out = default_jobs(count), setup.workdir / "export.zip.age"
        figures["export_1_per_s"] = bulk((email, identity), drafts, out, 1, errors)
        others, mine = harness.other_cpu(before, harness.cpu_snapshot())  # this process did all the work
        figures[f"export_{jobs}_per_s"] = bulk((email, identity), drafts, out, jobs, errors)
        stored = [pyrage.decrypt(p, [identity]) for p in db.session.scalars(select(Referral.packet)) if p]
        encrypting = sum(timed(lambda z=z: pyrage.encrypt(z, [identity.to_public()])) for z in stored)
        figures["baseline_per_s"] = round(len(stored) / encrypting, 1)
        rows: list[list[object]] = [["send_referral, one by one", figures["send"]["per_s"], figures["send"]["p95_ms"]]]
        rows += [[f"bulk export, {n} process(es)", figures[f"export_{n}_per_s"]] for n in sorted({1, jobs})]
        rows += [["baseline: pyrage.encrypt of each packet's ZIP", figures["baseline_per_s"]]]
        harness.table(["", "packets/s", "p95 ms"], rows)
        print("renders, ms:", ", ".join(f"{k[:-3].replace('_', ' ')} {v}" for k, v in figures["renders"].items()))
        if others > mine / 4:
            print(f"WARNING: other processes used {others:.0f} CPU s while this one used {mine:.0f}: figures low")
        met = figures[f"export_{jobs}_per_s"] >= TARGET_PER_S
        print(f"bulk export, {jobs} processes (target ≥ {TARGET_PER_S:g}/s): {'met' if met else 'MISSED'}")
        return harness.finish(figures | {"jobs": jobs, "met": met}, 0 if met else 2, errors, setup.workdir)


if __name__ == "__main__":
    sys.exit(main())
