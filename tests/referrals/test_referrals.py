"""Referrals to counsel: consent checked, packets only counsel open (with the real `age`),
withdrawal that bites, and a portal where counsel see nothing but their own referrals."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.cases.consent import record_consent
from app.cases.content import ContactDetails
from app.cases.models import Case
from app.extensions import db
from app.intake.services import change_consent
from app.notify.models import Notification
from app.referrals import directory
from app.referrals import packet as packet_module
from app.referrals import services as referrals
from app.referrals.models import Referral
from app.referrals.packet import PacketError
from tests.cases.test_case_page import as_reporter, open_case, section, signed_in
from tests.factories import Counsel, make_case, make_counsel, make_referral, make_staff
from tests.helpers import hidden_fields
from tests.staff.test_accounts import age_session

SCHEMA = json.loads((Path(__file__).parents[2] / "app" / "referrals" / "packet-v1.schema.json").read_text())


def tool(name: str) -> str:
    """A command-line tool the acceptance checks use for real (installed by .ci/run)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CONFIDE_REQUIRE_TOOLS") == "1":
            pytest.fail(f"{name} is not installed (Debian packages age and poppler-utils)")
        pytest.skip(f"{name} is not installed")
    return path


def open_with_age(data: bytes, counsel: Counsel, tmp_path: Path) -> zipfile.ZipFile:
    """Decrypt as counsel would, with `age -d -i key.txt`, and open the ZIP inside."""
    key = tmp_path / "key.txt"
    key.write_text(str(counsel.identity) + "\n")
    encrypted = tmp_path / "packet.zip.age"
    encrypted.write_bytes(data)
    result = subprocess.run([tool("age"), "-d", "-i", str(key), str(encrypted)], capture_output=True, check=True)
    return zipfile.ZipFile(io.BytesIO(result.stdout))


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "packet.pdf"
    path.write_bytes(pdf)
    return subprocess.run([tool("pdftotext"), str(path), "-"], capture_output=True, check=True, text=True).stdout


def named_case(**kwargs: object) -> Case:
    kwargs.setdefault("narrative", "My employer kept my passport and said I owe him for the room.")
    return make_case(
        contact=ContactDetails(
            name="Dana Whitfield", email="dana@example.org", phone="860-555-0147", safe_times="evenings"
        ),
        consent={"contact_email": True, "legal_referral": True, **kwargs.pop("consent", {})},  # type: ignore[dict-item]
        category="exploitation",
        **kwargs,
    )


def fresh_referral(referral_id: str) -> Referral:
    db.session.expire_all()
    found = db.session.get(Referral, referral_id)
    assert found is not None
    return found


def test_a_referral_without_consent_is_refused(app: Flask) -> None:
    coordinator, counsel = make_staff("coordinator"), make_counsel()
    case = make_case()  # legal referral not agreed
    with pytest.raises(referrals.ReferralError, match="not agreed to a legal referral"):
        referrals.create_referral(coordinator.user, case, counsel.id)
    # Consent given, a draft made, then withdrawn before sending: sending is refused too.
    record_consent(case.id, {"legal_referral": True}, source="status")
    db.session.commit()
    referral = referrals.create_referral(coordinator.user, case, counsel.id)
    record_consent(case.id, {"legal_referral": False}, source="status")
    db.session.commit()
    with pytest.raises(referrals.ReferralError, match="not agreed"):
        referrals.send_referral(coordinator.user, referral)
    assert fresh_referral(referral.id).packet is None


def test_the_case_page_offers_no_referral_without_consent(client: FlaskClient, app: Flask) -> None:
    coordinator = make_staff("coordinator")
    make_counsel()
    case = make_case()
    browser = signed_in(app, coordinator)
    html = section(open_case(browser, case), "referrals")
    assert "has not agreed to a legal referral" in html
    assert "Begin a referral" not in html


def test_the_packet_opens_with_age_and_holds_only_the_consented_scope(app: Flask, tmp_path: Path) -> None:
    coordinator, counsel = make_staff("coordinator", name="Casey Coordinator"), make_counsel(firm="Harbor Legal Aid")
    case = named_case()  # named, but no consent to show counsel who they are
    referral = make_referral(case, counsel, coordinator)
    archive = open_with_age(fresh_referral(referral.id).packet or b"", counsel, tmp_path)
    assert sorted(archive.namelist()) == ["README.txt", "packet.json", "packet.pdf"]
    document = json.loads(archive.read("packet.json"))
    assert document["schema"] == "urn:confide:referral-packet" and document["version"] == 1
    assert document["report"]["narrative"] == "My employer kept my passport and said I owe him for the room."
    assert document["referral"]["counsel"]["firm"] == "Harbor Legal Aid"
    assert document["referral"]["referred_by"] == "Casey Coordinator"
    assert document["scope"]["identity_disclosed"] is False and document["reporter"] is None
    assert "CONFIDENTIAL" in document["confidentiality"]
    assert [e["event"] for e in document["timeline"]][0] == "The report was received."
    raw = archive.read("packet.json").decode() + pdf_text(archive.read("packet.pdf"), tmp_path)
    for identifying in ("Dana", "Whitfield", "dana@example.org", "860-555-0147"):
        assert identifying not in raw, f"{identifying} is in a packet the reporter did not let name them"
    text = pdf_text(archive.read("packet.pdf"), tmp_path)
    assert "passport" in text and "Harbor Legal Aid" in text
    # The packet matches its documented schema in every field it has.
    assert set(document) == set(SCHEMA["required"])
    assert set(document["report"]) == set(SCHEMA["properties"]["report"]["required"])


def test_identity_is_in_the_packet_only_when_the_reporter_agreed(app: Flask, tmp_path: Path) -> None:
    coordinator, counsel = make_staff("coordinator"), make_counsel()
    case = named_case(consent={"identity_to_counsel": True})
    referral = make_referral(case, counsel, coordinator)
    assert fresh_referral(referral.id).identity_disclosed
    archive = open_with_age(fresh_referral(referral.id).packet or b"", counsel, tmp_path)
    document = json.loads(archive.read("packet.json"))
    assert document["scope"]["identity_disclosed"] is True
    assert document["reporter"]["name"] == "Dana Whitfield"
    assert document["reporter"]["email"] == "dana@example.org"
    # They agreed to email only: the phone number stays out.
    assert document["reporter"]["phone"] == "" and document["reporter"]["contact_by"] == ["email"]
    assert "Dana Whitfield" in pdf_text(archive.read("packet.pdf"), tmp_path)


def test_chinese_and_korean_reports_read_correctly_in_the_pdf(app: Flask, tmp_path: Path) -> None:
    coordinator, counsel = make_staff("coordinator"), make_counsel(languages="en, zh, ko")
    for narrative in ("老板扣留了我的护照，说我欠他房租。", "사장이 제 여권을 가져가고 방값을 빚졌다고 했어요."):
        case = make_case(narrative=narrative, consent={"legal_referral": True})
        referral = make_referral(case, counsel, coordinator)
        archive = open_with_age(fresh_referral(referral.id).packet or b"", counsel, tmp_path)
        assert json.loads(archive.read("packet.json"))["report"]["narrative"] == narrative
        assert narrative in pdf_text(archive.read("packet.pdf"), tmp_path).replace("\n", "")


def test_the_whole_referral_through_the_pages(client: FlaskClient, app: Flask, tmp_path: Path) -> None:
    coordinator, counsel = make_staff("coordinator"), make_counsel(firm="Harbor Legal Aid")
    case = named_case()
    staff = signed_in(app, coordinator)
    page = open_case(staff, case)
    assert "Harbor Legal Aid" in section(page, "referrals")
    fields = hidden_fields(page)
    staff.post(f"/cases/{case.id}/referrals", data={"csrf_token": fields["csrf_token"], "refer-counsel_id": counsel.id})
    referral = db.session.scalars(select(Referral).where(Referral.case_id == case.id)).one()
    assert referral.status == "draft"
    html = section(open_case(staff, case), "referrals")
    assert "Draft" in html and "Identity withheld" in html

    response = staff.post(
        f"/referrals/{referral.id}/send", data={"csrf_token": fields["csrf_token"]}, follow_redirects=True
    )
    assert "Referral sent" in response.get_data(as_text=True)
    assert fresh_referral(referral.id).status == "sent"
    assert db.session.get(Case, case.id).status == "referred"  # type: ignore[union-attr]
    # Counsel hear that something waits for them, and nothing more.
    assert db.session.scalars(select(Notification.kind).where(Notification.staff_id == counsel.id)).all() == [
        "referral"
    ]

    reporter = as_reporter(app, case)
    status_page = reporter.get("/status/case").get_data(as_text=True)
    assert "We sent your report to a lawyer at Harbor Legal Aid" in status_page

    lawyer = signed_in(app, counsel.staff)
    portal = lawyer.get("/counsel").get_data(as_text=True)
    assert referral.id[:8] in portal and "passport" not in portal
    download = lawyer.get(f"/referrals/{referral.id}/packet")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].endswith('.zip.age"')
    assert (
        json.loads(open_with_age(download.data, counsel, tmp_path).read("packet.json"))["case"]["reference"] == case.id
    )
    assert fresh_referral(referral.id).status == "acknowledged"

    detail = lawyer.get(f"/counsel/referrals/{referral.id}").get_data(as_text=True)
    token = hidden_fields(detail)["csrf_token"]
    refused = lawyer.post(f"/counsel/referrals/{referral.id}/decide", data={"csrf_token": token, "decision": "decline"})
    assert refused.status_code == 400 and "Choose why you are declining" in refused.get_data(as_text=True)
    lawyer.post(f"/counsel/referrals/{referral.id}/decide", data={"csrf_token": token, "decision": "accept"})
    assert fresh_referral(referral.id).status == "accepted"
    assert "agreed to help" in reporter.get("/status/case").get_data(as_text=True)
    lawyer.post(f"/referrals/{referral.id}/close", data={"csrf_token": token})
    assert fresh_referral(referral.id).status == "closed"

    steps = db.session.scalars(
        select(AuditEntry.detail).where(AuditEntry.action == "referral_status_changed").order_by(AuditEntry.id)
    ).all()
    assert [s["new"] for s in steps] == ["sent", "acknowledged", "accepted", "closed"]
    timeline = section(open_case(staff, case), "timeline")
    assert "referral status changed → Accepted" in timeline


def test_withdrawing_consent_revokes_a_sent_referral_and_counsel_can_no_longer_download(
    client: FlaskClient, app: Flask, tmp_path: Path
) -> None:
    coordinator, counsel = make_staff("coordinator"), make_counsel(firm="Harbor Legal Aid")
    case = named_case()
    referral = make_referral(case, counsel, coordinator)
    lawyer = signed_in(app, counsel.staff)
    assert lawyer.get(f"/referrals/{referral.id}/packet").status_code == 200

    reporter = as_reporter(app, case)
    page = reporter.get("/status/case").get_data(as_text=True)
    choices = {k: v for k, v in hidden_fields(page).items() if k == "csrf_token"}
    # Untick legal referral; keep being emailed.
    reporter.post("/status/consent", data={**choices, "peer_support": "y", "contact_email": "y"})

    revoked = fresh_referral(referral.id)
    assert revoked.status == "revoked" and revoked.reason == "consent_withdrawn" and revoked.packet is None
    download = lawyer.get(f"/referrals/{referral.id}/packet", follow_redirects=True)
    assert download.status_code == 200 and b"age-encryption.org" not in download.data
    assert "withdrawn" in download.get_data(as_text=True)
    assert "no longer open your report" in reporter.get("/status/case").get_data(as_text=True)
    assert "Download packet" not in lawyer.get("/counsel").get_data(as_text=True)
    kinds = db.session.scalars(select(Notification.kind).where(Notification.staff_id == counsel.id)).all()
    assert kinds == ["referral", "referral_revoked"]


def test_withdrawing_identity_consent_revokes_only_packets_that_name_the_reporter(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    first, second = make_counsel(firm="First Firm"), make_counsel(firm="Second Firm")
    case = named_case()
    anonymous_packet = make_referral(case, first, coordinator)
    record_consent(case.id, {"identity_to_counsel": True}, source="status")
    db.session.commit()
    named_packet = make_referral(case, second, coordinator)
    change_consent(case.id, {"identity_to_counsel": False})
    assert fresh_referral(anonymous_packet.id).status == "sent"
    assert fresh_referral(named_packet.id).status == "revoked"
    assert fresh_referral(named_packet.id).reason == "identity_withdrawn"


def test_counsel_see_only_their_own_referrals(client: FlaskClient, app: Flask) -> None:
    coordinator = make_staff("coordinator")
    mine, theirs = make_counsel(firm="Mine LLP"), make_counsel(firm="Theirs LLP")
    case = named_case()
    own = make_referral(case, mine, coordinator)
    other = make_referral(make_case(consent={"legal_referral": True}), theirs, coordinator)
    draft = make_referral(make_case(consent={"legal_referral": True}), mine, coordinator, send=False)
    lawyer = signed_in(app, mine.staff)
    portal = lawyer.get("/counsel").get_data(as_text=True)
    assert own.id[:8] in portal and other.id[:8] not in portal and draft.id[:8] not in portal
    token = hidden_fields(portal)["csrf_token"]
    for hidden in (other.id, draft.id, "00000000-0000-0000-0000-000000000000"):
        assert lawyer.get(f"/counsel/referrals/{hidden}").status_code == 404
        assert lawyer.get(f"/referrals/{hidden}/packet").status_code == 404
        for action in (
            f"/counsel/referrals/{hidden}/acknowledge",
            f"/counsel/referrals/{hidden}/decide",
            f"/referrals/{hidden}/close",
        ):
            assert lawyer.post(action, data={"csrf_token": token}).status_code == 404
    # Nor can counsel open any case, their referral's included.
    assert lawyer.get(f"/cases/{case.id}").status_code == 404
    assert fresh_referral(other.id).status == "sent"


def test_a_coordinator_downloads_a_packet_only_after_confirming_it_is_them(app: Flask) -> None:
    coordinator, counsel = make_staff("coordinator"), make_counsel()
    referral = make_referral(named_case(), counsel, coordinator)
    staff = signed_in(app, coordinator)
    assert staff.get(f"/referrals/{referral.id}/packet").status_code == 200  # just signed in
    age_session(staff, reauth=6 * 60)
    asked = staff.get(f"/referrals/{referral.id}/packet")
    location = urlsplit(asked.headers["Location"])
    assert asked.status_code == 303 and location.path == "/staff/reauth"
    assert unquote(location.query) == f"next=/referrals/{referral.id}/packet"
    page = staff.get(asked.headers["Location"])
    confirmed = staff.post(
        asked.headers["Location"],
        data={
            **hidden_fields(page.get_data(as_text=True)),
            "password": coordinator.password,
            "code": coordinator.code(),
        },
    )
    assert confirmed.status_code == 303
    download = staff.get(confirmed.headers["Location"])
    assert download.status_code == 200 and download.data.startswith(b"age-encryption.org/v1")
    downloads = db.session.scalars(select(AuditEntry.actor_id).where(AuditEntry.action == "packet_downloaded")).all()
    assert downloads == [coordinator.id, coordinator.id]


def test_a_counsel_profile_needs_a_real_age_public_key(client: FlaskClient, app: Flask) -> None:
    coordinator = make_staff("coordinator")
    person = make_staff("counsel", name="Robin Advocate")
    staff = signed_in(app, coordinator)
    page = staff.get(f"/staff/people/{person.id}").get_data(as_text=True)
    token = hidden_fields(page)["csrf_token"]
    form = {
        "csrf_token": token,
        "counsel-firm": "Harbor Legal Aid",
        "counsel-practice_areas": ["employment", "trafficking"],
        "counsel-languages": "en, es, ko",
    }
    for wrong, message in (
        ("AGE-SECRET-KEY-1QQQQ", "starts with age1"),
        ("age1notarealkey", "not a valid age public key"),
    ):
        response = staff.post(f"/staff/people/{person.id}/counsel", data={**form, "counsel-age_recipient": wrong})
        html = response.get_data(as_text=True)
        assert response.status_code == 400 and message in html
        assert 'value="Harbor Legal Aid"' in html and 'value="en, es, ko"' in html, "what was typed is kept"
    good = make_counsel().user  # any valid recipient will do
    from app.referrals.models import CounselProfile

    recipient = db.session.get(CounselProfile, good.id).age_recipient  # type: ignore[union-attr]
    response = staff.post(f"/staff/people/{person.id}/counsel", data={**form, "counsel-age_recipient": recipient})
    assert response.status_code == 303
    directory = staff.get("/staff/counsel").get_data(as_text=True)
    assert "Robin Advocate" in directory and "Professional licensing" not in directory
    assert "Trafficking and forced labor" in directory and "en, es, ko" in directory


def test_a_bad_key_never_reaches_the_directory(app: Flask) -> None:
    coordinator = make_staff("coordinator")
    person = make_staff("counsel")
    with pytest.raises(PacketError):
        directory.save_counsel_profile(
            person.user, by=coordinator.user, firm="X", practice_areas=[], languages="en", age_recipient="age1xyz"
        )
    assert directory.counsel_directory() == []


def test_a_withdrawal_while_the_packet_is_made_wins_over_the_send(app: Flask) -> None:
    coordinator, counsel = make_staff("coordinator"), make_counsel()
    case = named_case()
    referral = make_referral(case, counsel, coordinator, send=False)
    real_seal = packet_module.seal

    def seal_while_the_reporter_withdraws(*args: object, **kwargs: object) -> object:
        sealed = real_seal(*args, **kwargs)  # type: ignore[arg-type]
        with app.app_context():  # the reporter, in a request of their own
            change_consent(case.id, {"legal_referral": False})
        return sealed

    packet_module.seal = seal_while_the_reporter_withdraws  # type: ignore[assignment]
    try:
        with pytest.raises(referrals.ReferralError, match="changed meanwhile"):
            referrals.send_referral(coordinator.user, referral)
    finally:
        packet_module.seal = real_seal  # type: ignore[assignment]
    revoked = fresh_referral(referral.id)
    assert revoked.status == "revoked" and revoked.packet is None and revoked.sent_at is None
    assert db.session.scalars(select(Notification.kind).where(Notification.staff_id == counsel.id)).all() == []


def test_a_decision_cannot_undo_a_revocation(app: Flask) -> None:
    coordinator, counsel = make_staff("coordinator"), make_counsel()
    case = named_case()
    referral = make_referral(case, counsel, coordinator)
    seen_by_counsel = fresh_referral(referral.id)  # loaded as "sent" in counsel's request
    with app.app_context():
        change_consent(case.id, {"legal_referral": False})
    with pytest.raises(referrals.ReferralError, match="changed meanwhile"):
        referrals.decide_referral(counsel.user, seen_by_counsel, accept=True)
    assert fresh_referral(referral.id).status == "revoked"


def test_withdrawing_a_way_of_contact_revokes_packets_that_hold_it(app: Flask) -> None:
    coordinator, counsel = make_staff("coordinator"), make_counsel()
    case = named_case(consent={"identity_to_counsel": True})
    referral = make_referral(case, counsel, coordinator)
    change_consent(case.id, {"contact_email": False})
    revoked = fresh_referral(referral.id)
    assert revoked.status == "revoked" and revoked.reason == "identity_withdrawn" and revoked.packet is None


def test_the_narrative_names_no_one_when_identity_is_withheld(app: Flask, tmp_path: Path) -> None:
    coordinator, counsel = make_staff("coordinator"), make_counsel()
    case = named_case(
        narrative="I am Dana Whitfield. Call me on (860) 555 0147 or write to DANA@example.org. Dana is scared."
    )
    referral = make_referral(case, counsel, coordinator)
    archive = open_with_age(fresh_referral(referral.id).packet or b"", counsel, tmp_path)
    document = json.loads(archive.read("packet.json"))
    assert document["report"]["narrative"] == (
        "I am [withheld]. Call me on [withheld] or write to [withheld]. [withheld] is scared."
    )
    assert document["scope"]["redactions"] == 4
    assert "replaced by [withheld]" in " ".join(pdf_text(archive.read("packet.pdf"), tmp_path).split())


def test_the_packet_timeline_tells_nothing_of_other_referrals(app: Flask, tmp_path: Path) -> None:
    coordinator, first, second = make_staff("coordinator"), make_counsel(), make_counsel()
    case = named_case()
    declined = make_referral(case, first, coordinator)
    referrals.decide_referral(first.user, declined, accept=False, reason="capacity")
    referral = make_referral(case, second, coordinator)
    archive = open_with_age(fresh_referral(referral.id).packet or b"", second, tmp_path)
    events = [e["event"] for e in json.loads(archive.read("packet.json"))["timeline"]]
    assert events.count("A coordinator began this referral.") == 1
    assert not any("Declined" in e or "declined" in e for e in events)


def test_ending_a_referral_deletes_its_packet_and_returns_the_case_to_in_progress(app: Flask) -> None:
    coordinator, counsel = make_staff("coordinator"), make_counsel()
    case = named_case()
    referral = make_referral(case, counsel, coordinator)
    assert db.session.get(Case, case.id).status == "referred"  # type: ignore[union-attr]
    referrals.decide_referral(counsel.user, fresh_referral(referral.id), accept=False, reason="conflict")
    declined = fresh_referral(referral.id)
    assert declined.status == "declined" and declined.packet is None
    db.session.expire_all()
    assert db.session.get(Case, case.id).status == "in_progress"  # type: ignore[union-attr]


def test_a_discarded_draft_never_reaches_counsel(client: FlaskClient, app: Flask) -> None:
    coordinator, counsel = make_staff("coordinator"), make_counsel()
    draft = make_referral(named_case(), counsel, coordinator, send=False)
    referrals.revoke_referral(coordinator.user, draft)
    lawyer = signed_in(app, counsel.staff)
    assert draft.id[:8] not in lawyer.get("/counsel").get_data(as_text=True)
    assert lawyer.get(f"/counsel/referrals/{draft.id}").status_code == 404
    denied = db.session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "access_denied")).all()
    assert [d.get("referral") for d in denied] == [draft.id]


def test_deactivating_counsel_revokes_their_open_referrals(app: Flask) -> None:
    from app.staff.lifecycle import deactivate

    coordinator, counsel = make_staff("coordinator"), make_counsel()
    referral = make_referral(named_case(), counsel, coordinator)
    deactivate(counsel.user, by=coordinator.user)
    ended = fresh_referral(referral.id)
    assert ended.status == "revoked" and ended.reason == "counsel_removed" and ended.packet is None


def test_ids_with_a_nul_are_not_found_rather_than_an_error(client: FlaskClient, app: Flask) -> None:
    coordinator, counsel = make_staff("coordinator"), make_counsel()
    staff = signed_in(app, coordinator)
    for path in ("/referrals/a%00b/packet", "/cases/a%00b", "/counsel/referrals/%00"):
        assert staff.get(path).status_code == 404
    page = staff.get(f"/staff/people/{counsel.id}").get_data(as_text=True)
    response = staff.post(
        f"/staff/people/{counsel.id}/counsel",
        data={
            "csrf_token": hidden_fields(page)["csrf_token"],
            "counsel-firm": "Harbor\x00Legal",
            "counsel-languages": "en",
            "counsel-age_recipient": "age1x",
        },
    )
    # The NUL is dropped as the form is read (app/forms.py); the key is what is wrong here.
    assert response.status_code == 400 and "\x00" not in response.get_data(as_text=True)
