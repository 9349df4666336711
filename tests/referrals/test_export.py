"""`flask referrals export`: one age file for a firm, holding only what counsel may open."""

from __future__ import annotations

import json
import stat
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.intake.services import change_consent
from app.models import utcnow
from app.referrals.models import Referral
from tests.factories import make_case, make_counsel, make_referral, make_staff
from tests.referrals.test_referrals import named_case, open_with_age, pdf_text


def export(app: Flask, *args: str) -> tuple[int, str]:
    outcome = app.test_cli_runner().invoke(args=["referrals", "export", *args])
    if outcome.exception and not isinstance(outcome.exception, SystemExit):
        raise outcome.exception
    return outcome.exit_code, outcome.output


def test_the_export_holds_every_open_referral_for_that_counsel_and_nothing_else(app: Flask, tmp_path: Path) -> None:
    coordinator = make_staff("coordinator")
    firm, other = make_counsel(firm="Harbor Legal Aid"), make_counsel(firm="Other LLP")
    open_ones = [
        make_referral(make_case(narrative=f"Report number {n}", consent={"legal_referral": True}), firm, coordinator)
        for n in range(3)
    ]
    make_referral(make_case(consent={"legal_referral": True}), other, coordinator)
    withdrawn = make_referral(named_case(), firm, coordinator)
    change_consent(withdrawn.case_id, {"legal_referral": False})
    make_referral(make_case(consent={"legal_referral": True}), firm, coordinator, send=False)  # a draft

    out = tmp_path / "harbor.zip.age"
    code, output = export(app, "--counsel", firm.user.email.upper(), "--out", str(out))
    assert code == 0, output
    assert "3 referral(s) written" in output and f"age -d -i key.txt {out.name}" in output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    archive = open_with_age(out.read_bytes(), firm, tmp_path)
    index = json.loads(archive.read("index.json"))
    assert sorted(r["id"] for r in index["referrals"]) == sorted(r.id for r in open_ones)
    narratives = sorted(
        json.loads(archive.read(f"referral-{r['id']}/packet.json"))["report"]["narrative"] for r in index["referrals"]
    )
    assert narratives == ["Report number 0", "Report number 1", "Report number 2"]
    assert {name.split("/")[-1] for name in archive.namelist() if "/" in name} == {
        "README.txt",
        "packet.json",
        "packet.pdf",
    }
    made = db.session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "export_made")).one()
    assert made["count"] == 3 and made["counsel"] == firm.id


def test_since_leaves_out_older_referrals(app: Flask, tmp_path: Path) -> None:
    coordinator, firm = make_staff("coordinator"), make_counsel()
    old = make_referral(make_case(consent={"legal_referral": True}), firm, coordinator)
    new = make_referral(make_case(consent={"legal_referral": True}), firm, coordinator)
    referral = db.session.get(Referral, old.id)
    assert referral is not None
    referral.sent_at = utcnow() - timedelta(days=40)
    db.session.commit()
    since = (utcnow() - timedelta(days=7)).date().isoformat()
    out = tmp_path / "recent.zip.age"
    code, output = export(app, "--counsel", firm.user.email, "--since", since, "--out", str(out))
    assert code == 0, output
    index = json.loads(open_with_age(out.read_bytes(), firm, tmp_path).read("index.json"))
    assert [r["id"] for r in index["referrals"]] == [new.id]


def test_export_refusals_are_clear_and_write_nothing(app: Flask, tmp_path: Path) -> None:
    responder = make_staff("responder")
    firm = make_counsel()
    out = tmp_path / "x.zip.age"
    for args, message in (
        (["--counsel", "nobody@example.org", "--out", str(out)], "No counsel account has the email nobody@example.org"),
        (["--counsel", responder.user.email, "--out", str(out)], "No counsel account"),
        (["--counsel", firm.user.email, "--out", str(out)], "has no open referrals; nothing written"),
        (["--counsel", firm.user.email, "--out", str(tmp_path / "missing" / "x.age")], "does not exist"),
        (["--counsel", firm.user.email, "--since", "last tuesday", "--out", str(out)], "Invalid value for '--since'"),
    ):
        code, output = export(app, *args)
        assert code != 0 and message in output, output
        assert not out.exists()


def test_rendering_in_separate_processes_gives_the_same_export(app: Flask, tmp_path: Path) -> None:
    coordinator, firm = make_staff("coordinator"), make_counsel()
    narratives = ["First report, in English.", "他在门外，我很害怕。", "Segundo reporte: el dueño me gritó."]
    for narrative in narratives:
        make_referral(make_case(narrative=narrative, consent={"legal_referral": True}), firm, coordinator)
    out = tmp_path / "parallel.zip.age"
    code, output = export(app, "--counsel", firm.user.email, "--jobs", "2", "--out", str(out))
    assert code == 0, output
    archive = open_with_age(out.read_bytes(), firm, tmp_path)
    index = json.loads(archive.read("index.json"))["referrals"]
    for entry, narrative in zip(index, narratives, strict=True):
        folder = f"referral-{entry['id']}/"
        assert json.loads(archive.read(folder + "packet.json"))["report"]["narrative"] == narrative
        assert narrative in pdf_text(archive.read(folder + "packet.pdf"), tmp_path).replace("\n", "")
