"""Languages come from configuration alone: a sixth one is a config line (and a catalog)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from app import create_app
from app.cases.models import Case
from app.config import ConfigError
from app.extensions import db
from app.triage.routing import route_case
from tests.conftest import BrowserLikeClient, settings_for
from tests.factories import make_staff, sign_in
from tests.helpers import hidden_fields, submit_report
from tests.triage.test_routing import responder


def test_a_language_added_in_the_configuration_reaches_a_responder_who_speaks_it(
    base_app: Flask, app: Flask, keys_dir: Path, log_file: Path
) -> None:
    six = create_app(
        settings_for(
            base_app.config["SQLALCHEMY_DATABASE_URI"], keys_dir, log_file,
            queue_prefix=app.config["CONFIDE"].queue_prefix,
            languages=["en", "es", "vi"],
            language_names={"en": "English", "es": "Español", "vi": "Tiếng Việt"},
        )
    )
    six.test_client_class = BrowserLikeClient
    try:
        with six.app_context():
            reporter = six.test_client()
            form = reporter.get("/report").get_data(as_text=True)
            assert '<option value="vi">Tiếng Việt</option>' in form
            assert 'lang="vi"' in form and ">Tiếng Việt<" in form  # the language menu
            # A responder says she works in it, on her own profile.
            lan = responder(pseudonym="Lan", languages=("en",))
            staff = six.test_client()
            sign_in(staff, lan)
            page = staff.get("/staff/profile").get_data(as_text=True)
            assert 'value="vi"' in page and "Tiếng Việt" in page
            saved = staff.post(
                "/staff/profile",
                data={"csrf_token": hidden_fields(page)["csrf_token"], "pseudonym": "Lan", "languages": ["vi"], "on_duty": "y"},
            )
            assert saved.status_code in (200, 303)
            assert submit_report(reporter, language="vi").status_code == 200
            case = db.session.scalars(select(Case)).one()
            assert case.language == "vi"
            assert route_case(case.id) == "assigned"
            db.session.expire_all()
            assert db.session.get(Case, case.id).assigned_to_id == lan.id  # type: ignore[union-attr]
            # The coordinators' queue filters by it.
            coordinator = six.test_client()
            sign_in(coordinator, make_staff("coordinator"))
            queue = coordinator.get("/cases?language=vi").get_data(as_text=True)
            assert case.id in queue and '<option value="vi" lang="vi" selected>Tiếng Việt</option>' in queue
    finally:
        with six.app_context():
            db.engine.dispose()


def test_a_language_without_a_name_stops_the_app(tmp_path: Path, log_file: Path) -> None:
    with pytest.raises(ConfigError, match="no name for 'vi'"):
        settings_for(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, log_file, languages=["en", "vi"])
