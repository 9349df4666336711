"""Languages come from configuration alone: a sixth one is a config line (and a catalog)."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from flask import Flask
from flask.testing import FlaskClient
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


def vietnamese_catalog(directory: Path) -> Path:
    """A program's own catalog, as a translator would hand it over (two strings are enough)."""
    catalog = Catalog(locale="vi")
    catalog.add("Make a report", "Gửi báo cáo")
    catalog.add("What happened?", "Chuyện gì đã xảy ra?")
    target = directory / "vi" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / "messages.mo").open("wb") as handle:
        write_mo(handle, catalog)
    return directory


def test_a_language_added_in_the_configuration_reaches_a_responder_who_speaks_it(
    base_app: Flask, app: Flask, keys_dir: Path, log_file: Path, tmp_path: Path
) -> None:
    six = create_app(
        settings_for(
            base_app.config["SQLALCHEMY_DATABASE_URI"],
            keys_dir,
            log_file,
            queue_prefix=app.config["CONFIDE"].queue_prefix,
            languages=[*app.config["CONFIDE"].languages, "vi"],
            language_names={**app.config["CONFIDE"].language_names, "vi": "Tiếng Việt"},
            catalog_dirs=[str(vietnamese_catalog(tmp_path / "catalogs"))],
        )
    )
    six.test_client_class = BrowserLikeClient
    try:
        with six.app_context():
            reporter = six.test_client()
            form = reporter.get("/report").get_data(as_text=True)
            assert '<option value="vi">Tiếng Việt</option>' in form
            assert 'lang="vi"' in form and ">Tiếng Việt<" in form  # the language menu
            # A Vietnamese phone gets the form in Vietnamese.
            reporter.environ_base["HTTP_ACCEPT_LANGUAGE"] = "vi-VN,vi;q=0.9"
            form = reporter.get("/report").get_data(as_text=True)
            assert '<html lang="vi">' in form and "Gửi báo cáo" in form and "Chuyện gì đã xảy ra?" in form
            # A responder says she works in it, on her own profile.
            lan = responder(pseudonym="Lan", languages=("en",))
            staff = six.test_client()
            sign_in(staff, lan)
            page = staff.get("/staff/profile").get_data(as_text=True)
            assert 'value="vi"' in page and "Tiếng Việt" in page
            saved = staff.post(
                "/staff/profile",
                data={
                    "csrf_token": hidden_fields(page)["csrf_token"],
                    "pseudonym": "Lan",
                    "languages": ["vi"],
                    "on_duty": "y",
                },
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


def test_a_language_without_a_catalog_stops_the_app(base_app: Flask, keys_dir: Path, log_file: Path) -> None:
    settings = settings_for(
        base_app.config["SQLALCHEMY_DATABASE_URI"],
        keys_dir,
        log_file,
        languages=["en", "vi"],
        language_names={"en": "English", "vi": "Tiếng Việt"},
    )
    with pytest.raises(ConfigError, match="'vi' has no compiled catalog"):
        create_app(settings)


def test_a_language_without_a_name_stops_the_app(tmp_path: Path, log_file: Path) -> None:
    with pytest.raises(ConfigError, match="no name for 'vi'"):
        settings_for(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, log_file, languages=["en", "vi"])


@pytest.mark.parametrize(
    ("accept", "shown"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans"),
        ("zh-SG", "zh-Hans"),
        ("zh", "zh-Hans"),
        ("ko-KR,ko;q=0.9,en-US;q=0.8", "ko"),
        ("pt-BR,pt;q=0.9", "pt-BR"),
        ("pt", "pt-BR"),
        ("pt-PT,pt;q=0.9,en;q=0.5", "pt-BR"),
        ("fr-FR,fr;q=0.9,ko;q=0.5", "ko"),  # the first language offered, in her order
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR", "en"),
    ],
)
def test_the_browser_language_picks_the_page_language(client: FlaskClient, accept: str, shown: str) -> None:
    page = client.get("/report", headers={"Accept-Language": accept}).get_data(as_text=True)
    assert f'<html lang="{shown}">' in page
    # The language for talking with her starts as the one she reads.
    assert f'<option selected value="{shown}">' in page


def test_the_menu_names_each_language_in_its_own_script(client: FlaskClient) -> None:
    page = client.get("/report").get_data(as_text=True)
    menu = re.search(r'<nav class="languages"[^>]*>(.*?)</nav>', page, re.S)
    assert menu
    named = re.findall(r'<(?:a|strong) lang="([^"]+)"[^>]*>([^<]+)<', menu.group(1))
    assert named == [
        ("en", "English"),
        ("es", "Español"),
        ("zh-Hans", "简体中文"),
        ("ko", "한국어"),
        ("pt-BR", "Português (Brasil)"),
    ]
    # Choosing one without JavaScript: a plain link, remembered for the next pages.
    link = re.search(r'<a lang="ko"[^>]*href="([^"]+)"', menu.group(1))
    assert link
    assert client.get(unescape(link.group(1))).status_code == 303
    assert '<html lang="ko">' in client.get("/report", headers={"Accept-Language": "pt-BR"}).get_data(as_text=True)


@pytest.mark.parametrize("language", ["en", "es", "zh-Hans", "ko", "pt-BR"])
def test_the_report_form_is_light_on_a_phone_in_every_language(client: FlaskClient, language: str) -> None:
    """Under 30 KB of HTML before compression, and no web fonts: the phone's own fonts."""
    client.get(f"/language/{language}?next=/report")
    page = client.get("/report")
    assert page.status_code == 200 and f'<html lang="{language}">' in page.get_data(as_text=True)
    assert len(page.data) < 30_000, f"/report in {language} is {len(page.data):,} bytes"
    stylesheet = (Path(__file__).resolve().parent.parent / "static" / "style.css").read_text(encoding="utf-8")
    assert "@font-face" not in stylesheet and "@import" not in stylesheet
    assert "<link" not in page.get_data(as_text=True).replace(
        '<link rel="stylesheet" href="/static/style.css">', ""
    ).replace('<link rel="icon" href="/static/icon.svg" type="image/svg+xml">', ""), (
        "a page loads something besides its own stylesheet and icon"
    )
