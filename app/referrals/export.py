"""Bulk export: every referral a counsel may open, as one age file for their firm.

The file is a ZIP (index.json, then one folder per referral holding README.txt, packet.json
and packet.pdf) encrypted to the counsel's recipient. Packets are made afresh with consent as
it stands at export time; a referral whose consent was withdrawn is never in it.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.access import COUNSEL
from app.cases.consent import current_consent
from app.cases.models import Case
from app.extensions import db
from app.models import utcnow
from app.referrals import packet
from app.referrals.models import CounselProfile, Referral
from app.referrals.pdf import preload_fonts, render_packet_pdf
from app.referrals.vocabulary import OPEN_TO_COUNSEL
from app.signals import announce
from app.staff.models import StaffUser


class ExportError(Exception):
    """Nothing was written; the message says why."""


@dataclass(frozen=True)
class Export:
    counsel: StaffUser
    recipient: str
    referral_ids: list[str]


def plan_export(counsel_email: str, since: date | None = None) -> Export:
    """Which referrals go to this counsel; ExportError if they cannot receive any."""
    counsel = db.session.scalar(select(StaffUser).where(StaffUser.email == counsel_email.strip().lower()))
    if counsel is None or counsel.role != COUNSEL:
        raise ExportError(f"No counsel account has the email {counsel_email}.")
    if not counsel.active:
        raise ExportError(f"The counsel account {counsel.email} is deactivated.")
    profile = db.session.get(CounselProfile, counsel.id)
    if profile is None or not profile.age_recipient:
        raise ExportError(f"{counsel.email} has no age public key in the counsel directory.")
    query = select(Referral.id).where(Referral.counsel_id == counsel.id, Referral.status.in_(OPEN_TO_COUNSEL))
    if since is not None:
        query = query.where(Referral.sent_at >= datetime.combine(since, time.min, tzinfo=UTC))
    ids = list(db.session.scalars(query.order_by(Referral.sent_at, Referral.id)))
    return Export(counsel, profile.age_recipient, ids)


def _documents(plan: Export, index: list[dict[str, str]], now: datetime) -> Iterator[dict[str, Any]]:
    for referral_id in plan.referral_ids:
        referral = db.session.get(Referral, referral_id)
        case = db.session.get(Case, referral.case_id) if referral else None
        consent = current_consent(referral.case_id) if referral else {}
        if referral is None or case is None or not consent["legal_referral"]:
            continue  # gone, or consent withdrawn since the plan was made
        document = packet.build_document(referral, case, consent=consent, identity=referral.identity_disclosed, now=now)
        index.append(
            {"id": referral.id, "case": case.id, "status": referral.status, "sent_at": document["referral"]["sent_at"]}
        )
        yield document


def _rendered(documents: Iterable[dict[str, Any]], jobs: int) -> Iterator[tuple[dict[str, Any], bytes]]:
    """Each document with its PDF, in order. PDFs are most of the work: with ``jobs`` > 1 they
    are rendered in that many processes (started fresh, so no database connection or SQLite
    lock is shared with them) while this one reads and decrypts the next cases."""
    if jobs <= 1:
        for document in documents:
            yield document, render_packet_pdf(document)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=preload_fonts) as pool:
        ahead: deque[tuple[dict[str, Any], Future[bytes]]] = deque()
        for document in documents:
            ahead.append((document, pool.submit(render_packet_pdf, document)))
            if len(ahead) >= 4 * jobs:  # a few in hand per process keeps memory flat
                first, pdf = ahead.popleft()
                yield first, pdf.result()
        while ahead:
            first, pdf = ahead.popleft()
            yield first, pdf.result()


def _files(
    plan: Export, index: list[dict[str, str]], step: Callable[[], None], jobs: int
) -> Iterator[tuple[str, bytes]]:
    now = utcnow()
    for document, pdf in _rendered(_documents(plan, index, now), jobs):
        yield from packet.packet_files(document, prefix=f"referral-{document['referral']['id']}/", pdf=pdf)
        step()
    listing = {
        "schema": packet.SCHEMA_ID,
        "version": packet.VERSION,
        "generated_at": now.isoformat(),
        "referrals": index,
    }
    yield "index.json", json.dumps(listing, indent=2).encode()


def write_export(
    plan: Export, out: Path, *, step: Callable[[], None] = lambda: None, actor: str = "", jobs: int = 1
) -> int:
    """Write the encrypted export to ``out`` (created 0600, replaced only when complete),
    rendering PDFs in ``jobs`` processes. Returns the number of referrals in it."""
    index: list[dict[str, str]] = []
    sealed = packet.seal(plan.recipient, _files(plan, index, step, jobs))
    partial = out.with_name(out.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(sealed.data)
    partial.replace(out)
    for entry in index:  # on each case's own timeline too
        announce("packet_exported", actor=actor, role="operator", case_id=entry["case"], referral=entry["id"])
    announce(
        "export_made",
        actor=actor,
        role="operator",
        kind="referrals",
        counsel=plan.counsel.id,
        count=len(index),
        sha256=sealed.sha256,
    )
    return len(index)
