"""Factories for staff and cases, built through the real services (real crypto, real DB)."""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from pyrage import x25519
from werkzeug.test import TestResponse

from app.cases.consent import current_consent, record_consent
from app.cases.content import ContactDetails, ReportContent
from app.cases.models import Case
from app.extensions import db
from app.intake import services as intake
from app.keystore import current_keyring
from app.models import utcnow
from app.referrals import directory
from app.referrals import services as referrals
from app.referrals.models import Referral
from app.staff import credentials
from app.staff.models import StaffUser
from tests import totp
from tests.helpers import hidden_fields

PASSWORD = "quiet lantern orchard 47"


@functools.cache
def _password_hash() -> str:
    # argon2id is slow on purpose: every factory account shares one real hash of PASSWORD,
    # still verified for real at every sign-in.
    return credentials.hash_password(PASSWORD)


@dataclass
class Staff:
    user: StaffUser
    password: str
    secret: str

    @property
    def id(self) -> str:
        return self.user.id

    def code(self) -> str:
        """A TOTP code this account has not used yet (codes are single-use)."""
        db.session.refresh(self.user)
        return totp.unused_code(self.secret, self.user.totp_last_step)


def make_staff(
    role: str = "responder",
    *,
    email: str | None = None,
    name: str = "",
    pseudonym: str | None = None,
    languages: tuple[str, ...] = ("en",),
    on_duty: bool = True,
    caseload_cap: int = 5,
) -> Staff:
    """An enrolled, active account with password ``PASSWORD`` and a fresh TOTP secret."""
    ring = current_keyring()
    email = email or f"{role}-{secrets.token_hex(4)}@example.org"
    user = StaffUser(
        email=email,
        name=name or email.split("@")[0],
        role=role,
        pseudonym=pseudonym,
        languages=list(languages),
        on_duty=on_duty,
        caseload_cap=caseload_cap,
        password_hash=_password_hash(),
        enrolled_at=utcnow(),
    )
    db.session.add(user)
    db.session.flush()
    secret = credentials.new_totp_secret()
    user.totp_sealed, user.totp_root = credentials.seal_totp(ring, user.id, secret), ring.active_root_id
    db.session.commit()
    return Staff(user=user, password=PASSWORD, secret=secret)


def sign_in(client: FlaskClient, staff: Staff) -> TestResponse:
    """Sign in through the real two-step form, as a person would."""
    page = client.get("/staff/login")
    client.post(
        "/staff/login",
        data={**hidden_fields(page.get_data(as_text=True)), "email": staff.user.email, "password": staff.password},
    )
    page = client.get("/staff/login/code")
    return client.post("/staff/login/code", data={**hidden_fields(page.get_data(as_text=True)), "code": staff.code()})


def make_case(
    *,
    category: str = "sexual_harassment",
    narrative: str = "A client made remarks about my body.",
    assigned_to: Staff | None = None,
    contact: ContactDetails | None = None,
    consent: dict[str, bool] | None = None,
    language: str = "en",
    county: str = "",
    **content: Any,
) -> Case:
    """A case filed through the intake service (scored, sealed, queued)."""
    filed = intake.submit_report(
        intake.Submission(
            category=category,
            language=language,
            county=county,
            content=ReportContent(narrative=narrative, **content),
            submission_token=secrets.token_urlsafe(16),
            contact=contact,
            consent={"peer_support": True, **(consent or {})},
        )
    )
    case = db.session.get(Case, filed.case_id)
    assert case is not None
    if assigned_to is not None:
        case.assigned_to_id, case.assigned_at = assigned_to.id, utcnow()
        db.session.commit()
    case.receipt = filed.receipt.display()  # type: ignore[attr-defined]
    return case


def make_support_request(
    *,
    narrative: str = "Long shifts, and a client who makes me uneasy. I would like to talk.",
    language: str = "en",
    contact: ContactDetails | None = None,
    consent: dict[str, bool] | None = None,
    assigned_to: Staff | None = None,
) -> Case:
    """A support request ("I'd like to talk with someone") filed through the intake service."""
    filed = intake.submit_report(
        intake.Submission(
            kind="support",
            category="support",
            language=language,
            content=ReportContent(narrative=narrative),
            submission_token=secrets.token_urlsafe(16),
            contact=contact,
            consent={"peer_support": True, **(consent or {})},
        )
    )
    case = db.session.get(Case, filed.case_id)
    assert case is not None
    if assigned_to is not None:
        case.assigned_to_id, case.assigned_at = assigned_to.id, utcnow()
        db.session.commit()
    case.receipt = filed.receipt.display()  # type: ignore[attr-defined]
    return case


@dataclass
class Counsel:
    staff: Staff
    # The age identity only counsel hold; tests decrypt packets with it.
    identity: x25519.Identity

    @property
    def id(self) -> str:
        return self.staff.id

    @property
    def user(self) -> StaffUser:
        return self.staff.user


def make_counsel(*, firm: str = "Harbor Legal Aid", languages: str = "en, es", name: str = "") -> Counsel:
    """A counsel account in the directory, with a fresh age key pair."""
    staff = make_staff("counsel", name=name)
    identity = x25519.Identity.generate()
    directory.save_counsel_profile(
        staff.user,
        by=staff.user,
        firm=firm,
        practice_areas=["employment", "sexual_violence"],
        languages=languages,
        age_recipient=str(identity.to_public()),
    )
    return Counsel(staff, identity)


def make_referral(case: Case, counsel: Counsel, coordinator: Staff, *, send: bool = True) -> Referral:
    """A referral of ``case`` (given consent to a legal referral first), sent unless told not."""
    if not current_consent(case.id)["legal_referral"]:
        record_consent(case.id, {"legal_referral": True}, source="status")
        db.session.commit()
    referral = referrals.create_referral(coordinator.user, case, counsel.id)
    if send:
        referrals.send_referral(coordinator.user, referral)
    return referral
