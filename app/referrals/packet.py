"""The referral packet: a JSON document (schema: packet-v1.schema.json) and its PDF, in a
ZIP file encrypted with age to the counsel's recipient, so `age -d -i key.txt` opens it.

The document holds only what the reporter agreed to share: the report always (a referral
needs consent to legal referral), their identity only with consent to disclose it to
counsel. Message text and internal notes never go into a packet.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyrage
from flask_babel import force_locale
from pyrage import x25519
from sqlalchemy import select

from app import vocabulary as words
from app.audit.models import AuditEntry
from app.cases.consent import choice_of
from app.cases.conversation import open_case_key
from app.cases.models import Case, ConsentRecord
from app.cases.sealing import open_json
from app.config import current_settings
from app.extensions import db
from app.models import utcnow
from app.referrals.models import CounselProfile, Referral
from app.referrals.pdf import render_packet_pdf
from app.referrals.vocabulary import STATUS_NAMES as STEP_NAMES
from app.staff.models import StaffUser

SCHEMA_PATH = Path(__file__).with_name("packet-v1.schema.json")
SCHEMA_ID = "urn:confide:referral-packet"
VERSION = 1

CONFIDENTIALITY = (
    "CONFIDENTIAL. This packet was shared by a peer-support program with the written consent of "
    "the person who reported, for the sole purpose of legal advice or representation. It holds only "
    "what they agreed to share. Do not forward it, store it outside your matter file, or contact "
    "anyone named in it without first agreeing the approach with the program's coordinator. If "
    "the reporter withdraws consent, the program will ask you to stop using it. If you received "
    "it in error, tell the program and destroy every copy."
)

# Timeline wording for what the audit log records about a case. Anything not listed here
# (views, notes, flags) stays out of the packet.
EVENTS = {
    "case_acknowledged": "A peer responder acknowledged the report.",
    "case_assigned": "The case was assigned to a peer responder.",
    "consent_changed": "The reporter changed their consent choices.",
    "referral_created": "A coordinator began this referral.",
}


class PacketError(Exception):
    """The packet cannot be made (for example, the counsel's key is missing)."""


def parse_recipient(text: str) -> x25519.Recipient:
    """An age X25519 recipient, or PacketError with a message a coordinator can act on."""
    text = (text or "").strip()
    if not text.startswith("age1"):
        raise PacketError("An age public key starts with age1 (a secret key, AGE-SECRET-KEY-…, must never be shared).")
    try:
        return x25519.Recipient.from_str(text)
    except pyrage.RecipientError:
        raise PacketError("That is not a valid age public key; ask counsel to copy it again from age-keygen.") from None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _label(table: dict[str, Any], code: str) -> str:
    return str(table.get(code, code)) if code else ""


def _timeline(case: Case, referral_id: str) -> list[dict[str, str]]:
    """What the program did, oldest first. Of referrals, only this one: counsel do not learn
    whom else the case went to."""
    entries = [{"at": _iso(case.created_at) or "", "event": "The report was received."}]
    rows = db.session.execute(
        select(AuditEntry.at, AuditEntry.action, AuditEntry.detail)
        .where(AuditEntry.case_id == case.id)
        .order_by(AuditEntry.id)
    )
    for at, action, detail in rows:
        if action == "case_status_changed":
            event = f"Status changed to {words.STATUS_NAMES.get(detail.get('new'), detail.get('new'))}."
        elif action == "message_sent":
            who = "the reporter" if detail.get("direction") == "from_reporter" else "the program"
            event = f"A message was sent by {who}."
        elif action.startswith("referral_") and detail.get("referral") != referral_id:
            continue
        elif action == "referral_status_changed":
            event = f"This referral became {STEP_NAMES.get(detail.get('new'), detail.get('new'))}."
        elif action in EVENTS:
            event = EVENTS[action]
        else:
            continue
        entries.append({"at": _iso(at) or "", "event": event})
    return entries


def _consent(case_id: str) -> list[dict[str, Any]]:
    latest: dict[str, ConsentRecord] = {}
    for record in db.session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.case_id == case_id, ConsentRecord.recipient == "")
        .order_by(ConsentRecord.id)
    ):
        latest[record.purpose] = record
    return [{"purpose": p, "granted": choice_of(r), "recorded_at": _iso(r.recorded_at)} for p, r in latest.items()]


WITHHELD = "[withheld]"


def redact(text: str, contact: dict[str, str]) -> tuple[str, int]:
    """``text`` with the reporter's name (whole or any part), email and phone number replaced by
    [withheld], for packets that must not say who they are. Returns the text and the count."""
    patterns = []
    if email := (contact.get("email") or "").strip():
        patterns.append(re.escape(email))
    digits = re.sub(r"\D", "", contact.get("phone") or "")
    if len(digits) >= 7:
        # The number however it is written (860-555-0147, (860) 555 0147), and without its area code.
        patterns += [r"\(?" + r"[\s().+-]*".join(tail) for tail in dict.fromkeys((digits[-10:], digits[-7:]))]
    # Longest first, so that a whole name goes before its parts, and an email before the name in it.
    name = (contact.get("name") or "").strip()
    parts = sorted({name, *name.split()}, key=len, reverse=True)
    patterns += [r"\b" + re.escape(part) + r"\b" for part in parts if len(part) >= 2]
    if not patterns:
        return text, 0
    return re.subn("|".join(patterns), WITHHELD, text, flags=re.IGNORECASE)


def build_document(
    referral: Referral, case: Case, *, consent: dict[str, bool], identity: bool, now: datetime | None = None
) -> dict[str, Any]:
    """The packet's JSON document for ``referral``, within ``consent``: the reporter named only
    if ``identity`` (what the referral was sent with) and their consent still stands."""
    counsel = db.session.get(StaffUser, referral.counsel_id)
    profile = db.session.get(CounselProfile, referral.counsel_id)
    by = db.session.get(StaffUser, referral.created_by_id) if referral.created_by_id else None
    if counsel is None or profile is None:
        raise PacketError("That counsel can no longer receive referrals (no active account or no key).")
    dek = open_case_key(case)
    report = open_json(dek, case.report_sealed, record="case", record_id=case.id, field="report")
    contact = (
        open_json(dek, case.contact_sealed, record="case", record_id=case.id, field="contact")
        if case.contact_sealed
        else {}
    )
    narrative = report.get("narrative", "")
    reporter, redacted = None, 0
    if identity and consent["identity_to_counsel"] and contact:
        reporter = {
            "name": contact.get("name", ""),
            "email": contact.get("email", "") if consent["contact_email"] else "",
            "phone": contact.get("phone", "") if consent["contact_phone"] or consent["contact_text"] else "",
            "safe_times": contact.get("safe_times", ""),
            "voicemail_ok": contact.get("voicemail_ok", ""),
            "contact_by": [way for way in ("phone", "email", "text") if consent[f"contact_{way}"]],
        }
    elif contact:
        narrative, redacted = redact(narrative, contact)
    with force_locale("en"):
        document = {
            "schema": SCHEMA_ID,
            "version": VERSION,
            "generated_at": _iso(now or utcnow()),
            "referral": {
                "id": referral.id,
                "program": current_settings().public_url,
                "referred_by": by.display_name if by else "",
                "counsel": {"name": counsel.name, "firm": profile.firm, "email": counsel.email},
                "sent_at": _iso(referral.sent_at or now or utcnow()),
            },
            "case": {
                "reference": case.id,
                "received_at": _iso(case.created_at),
                "category": case.category,
                "category_label": _label(words.CASE_LABELS, case.category),
                "level": case.level,
                "language": case.language,
                "county": _label(words.COUNTIES, case.county) if case.county else None,
            },
            "scope": {"identity_disclosed": reporter is not None, "redactions": redacted, "consent": _consent(case.id)},
            "report": {
                "narrative": narrative,
                "perpetrator": _label(words.PERPETRATORS, report.get("perpetrator", "")),
                "setting": _label(words.SETTINGS, report.get("setting", "")),
                "when": _label(words.WHEN, report.get("when", "")),
                "danger_now": _label(words.YES_NO_UNSURE, report.get("danger_now", "")),
                "injured": _label(words.YES_NO_UNSURE, report.get("injured", "")),
                "ongoing": _label(words.YES_NO_UNSURE, report.get("ongoing", "")),
                "wants": [_label(words.WANTS, w) for w in report.get("wants", ())],
            },
            "reporter": reporter,
            "timeline": _timeline(case, referral.id),
            "confidentiality": CONFIDENTIALITY,
        }
    return document


README = """Confide referral packet {id}

packet.pdf   the packet to read
packet.json  the same, as data (schema {schema}, version {version})

{confidentiality}
"""


def _zip(entries: Iterable[tuple[str, bytes]]) -> bytes:
    """The files in a ZIP, the same bytes for the same files. Stored, not deflated: the PDF's
    streams are compressed already and the rest is small, so deflating costs more than it saves."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def packet_files(document: dict[str, Any], prefix: str = "", pdf: bytes | None = None) -> Iterator[tuple[str, bytes]]:
    """The files of one packet: README.txt, packet.json and packet.pdf (rendered here unless
    given already rendered)."""
    readme = README.format(
        id=document["referral"]["id"], schema=SCHEMA_ID, version=VERSION, confidentiality=CONFIDENTIALITY
    )
    yield f"{prefix}README.txt", readme.encode()
    yield f"{prefix}packet.json", json.dumps(document, ensure_ascii=False, indent=2).encode()
    yield f"{prefix}packet.pdf", pdf if pdf is not None else render_packet_pdf(document)


@dataclass(frozen=True)
class SealedPacket:
    data: bytes
    sha256: str


def seal(recipient: str, files: Iterable[tuple[str, bytes]]) -> SealedPacket:
    """ZIP ``files`` and encrypt them to ``recipient``; only that counsel's identity opens it."""
    encrypted = pyrage.encrypt(_zip(files), [parse_recipient(recipient)])
    return SealedPacket(encrypted, hashlib.sha256(encrypted).hexdigest())
