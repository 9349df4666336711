"""Recording and reading the reporter's consent choices."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select

from app.cases.models import ConsentRecord
from app.crypto import blind_index
from app.extensions import db
from app.keystore import current_keyring
from app.models import minute_now

PURPOSES = {
    "peer_support": _l("A trained peer responder may read my report and reply to me."),
    "legal_referral": _l("My report may be shared with legal counsel if I ask for a referral."),
    "identity_to_counsel": _l("Counsel may see my name and contact details."),
    "contact_phone": _l("You may call me."),
    "contact_email": _l("You may email me."),
    "contact_text": _l("You may text me."),
}
CONTACT_PURPOSES = ("contact_phone", "contact_email", "contact_text")
SEAL_PURPOSE = "consent-choice"


def sealed_choice(case_id: str, purpose: str, granted: bool, version: str | None = None) -> bytes:
    """The keyed index of one choice, under root version ``version`` (None: the active one)."""
    return blind_index(current_keyring(), SEAL_PURPOSE, f"{case_id}|{purpose}|{granted}", version=version)


def _row(case_id: str, purpose: str, granted: bool) -> dict[str, object]:
    """The stored form of one choice: a way to be contacted only as a keyed index."""
    if purpose in CONTACT_PURPOSES:
        root = current_keyring().active_root_id
        return {"granted": False, "sealed_choice": sealed_choice(case_id, purpose, granted), "seal_root": root}
    return {"granted": granted, "sealed_choice": None, "seal_root": None}


def choice_of(record: ConsentRecord) -> bool:
    """What ``record`` says the reporter chose."""
    if record.sealed_choice is None:
        return bool(record.granted)
    expected = sealed_choice(record.case_id, record.purpose, True, record.seal_root)
    return hmac.compare_digest(record.sealed_choice, expected)


def current_consent(case_id: str) -> dict[str, bool]:
    """The choice in force for every purpose; a purpose never decided is not granted."""
    rows = db.session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.case_id == case_id, ConsentRecord.recipient == "")
        .order_by(ConsentRecord.id)
    )
    latest = {row.purpose: row for row in rows}
    choices = dict.fromkeys(PURPOSES, False)
    for purpose, row in latest.items():
        choices[purpose] = choice_of(row)
    return choices


def record_initial_consent(case_id: str, choices: Mapping[str, bool]) -> None:
    """Record every choice made on the report form, granted or not, in one statement."""
    now = minute_now()
    db.session.execute(
        insert(ConsentRecord),
        [
            {
                "case_id": case_id,
                "purpose": p,
                "recipient": "",
                "recorded_at": now,
                "source": "intake",
                **_row(case_id, p, bool(choices.get(p))),
            }
            for p in PURPOSES
        ],
    )


def record_consent(case_id: str, choices: Mapping[str, bool], *, source: str) -> list[str]:
    """Append a record for every purpose whose choice changed; returns those purposes."""
    before = current_consent(case_id)
    changed = [p for p in PURPOSES if p in choices and bool(choices[p]) != before[p]]
    for purpose in changed:
        db.session.add(
            ConsentRecord(
                case_id=case_id, purpose=purpose, source=source, **_row(case_id, purpose, bool(choices[purpose]))
            )
        )
    return changed
