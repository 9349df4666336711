"""The library's pages as people meet them: the public ones, the staff ones by role, and the
links after a report."""

from __future__ import annotations

from datetime import date

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.rights import library
from app.rights.models import ArticleVersion
from app.rights.seed import seed
from tests.cases.test_queue import signed_in
from tests.factories import make_case, make_staff
from tests.helpers import hidden_fields, open_status, submit_report

SPANISH = {"Accept-Language": "es-MX,es;q=0.9"}
KOREAN = {"Accept-Language": "ko-KR,ko;q=0.9"}


def page(client: FlaskClient, path: str, status: int = 200, headers: dict[str, str] | None = None) -> str:
    response = client.get(path, headers=headers or {})
    assert response.status_code == status, (path, response.status_code)
    return response.get_data(as_text=True)


def published(
    slug: str, title: str, *, role: str = "counsel", language: str = "en", matches: tuple[str, ...] = ()
) -> None:
    writer, coordinator = make_staff(role).user, make_staff("coordinator").user
    article = library.find_by_slug(slug)
    text = library.Draft(language, title, f"About {title}.", f"## {title}\n\nThe body of {title}.", date(2026, 10, 2))
    if article is None:
        version = library.start_article(slug, matches, text, by=writer)
    else:
        version = library.add_version(article, text, by=writer)
    library.publish(version, by=coordinator)


def test_the_library_reads_in_her_language_and_offers_english_labelled(client: FlaskClient, app: Flask) -> None:
    published("tips", "Your tips are yours", matches=("exploitation",))
    published("tips", "Sus propinas son suyas", language="es")
    published("licensing", "How a licensing complaint works")
    html = page(client, "/rights", headers=SPANISH)
    assert "Sus propinas son suyas" in html and "Your tips are yours" not in html
    # Not yet in Spanish: offered in English, marked as English for her and for her reader.
    assert '<a href="/rights/licensing" lang="en" hreflang="en">How a licensing complaint works</a>' in html
    assert "(en inglés)" in html
    assert "Información general, no asesoría legal." in html

    article = page(client, "/rights/licensing", headers=SPANISH)
    assert '<html lang="es">' in article and 'id="in-english"' in article
    assert '<h1 lang="en">How a licensing complaint works</h1>' in article


def test_an_article_says_what_it_is_who_wrote_it_and_when_it_was_reviewed(client: FlaskClient, app: Flask) -> None:
    published("tips", "Your tips are yours", role="counsel")
    published("documents", "Your documents", role="coordinator")
    html = page(client, "/rights/tips")
    assert "General information, not legal advice." in html
    assert "Written by a lawyer working with the program." in html
    assert "Last reviewed on October 2, 2026." in html
    assert "<h2>Your tips are yours</h2>" in html  # its Markdown, rendered
    # The language links of the rest of the site, and no script anywhere.
    assert 'href="/language/es?next=/rights/tips"' in html and "<script" not in html
    assert "Written by a program coordinator." in page(client, "/rights/documents")


def test_nothing_unpublished_or_unknown_is_public(client: FlaskClient, app: Flask) -> None:
    writer = make_staff("counsel").user
    text = library.Draft("en", "Draft only", "Not yet.", "Not yet.", date(2026, 10, 2))
    library.start_article("draft-only", [], text, by=writer)
    page(client, "/rights/draft-only", 404)
    page(client, "/rights/no-such-article", 404)
    page(client, "/rights/..%2Fetc", 404)
    assert "Draft only" not in page(client, "/rights")
    # Reading leaves no trace: nothing about the reader is recorded.
    before = db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()))
    page(client, "/rights")
    assert db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc())) == before


def test_the_confirmation_page_links_the_articles_for_her_case(client: FlaskClient, app: Flask) -> None:
    seed()
    html = receipt_page(client, category="rape", narrative="A client forced himself on me after the session.")
    assert 'href="/rights/after-a-sexual-assault"' in html
    assert 'href="/rights/wages-debts-and-documents"' not in html
    html = receipt_page(client, category="exploitation", narrative="My manager keeps my passport.")
    assert 'href="/rights/wages-debts-and-documents"' in html
    assert 'href="/rights/after-a-sexual-assault"' not in html
    # Asking for help with a licensing complaint brings the complaint and the FOI articles.
    html = receipt_page(client, category="other", narrative="The owner lied to the board.", wants=["licensing"])
    assert 'href="/rights/licensing-complaints"' in html
    assert 'href="/rights/records-and-freedom-of-information"' in html
    # Nothing matches: no section at all.
    html = receipt_page(client, category="sexual_harassment", narrative="He made remarks.")
    assert 'id="rights"' not in html


def receipt_page(client: FlaskClient, **answers: object) -> str:
    response = submit_report(client, **answers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_status_links_the_matching_articles_in_her_language(client: FlaskClient, app: Flask) -> None:
    seed()
    case = make_case(category="exploitation", narrative="They hold my papers.", language="es")
    html = open_status(client, case.receipt).get_data(as_text=True)  # type: ignore[attr-defined]
    assert 'href="/rights/wages-debts-and-documents"' in html
    client.get("/language/es?next=/status/case")
    html = page(client, "/status/case")
    assert "Su salario, sus deudas y sus documentos" in html
    # The link opens the article, and her session is still there after it.
    assert "Su salario" in page(client, "/rights/wages-debts-and-documents")
    assert page(client, "/status/case")


def test_counsel_drafts_and_previews_but_cannot_publish(client: FlaskClient, app: Flask) -> None:
    counsel = make_staff("counsel")
    browser = signed_in(app, counsel)
    portal = page(browser, "/counsel")
    assert 'href="/staff/rights"' in portal  # her way to the library
    form = hidden_fields(page(browser, "/staff/rights"))
    response = browser.post(
        "/staff/rights/new",
        data={
            **form,
            "slug": "tips",
            "shown_after": ["exploitation"],
            "language": "es",
            "title": "Sus propinas",
            "summary": "Son suyas.",
            "body": "## Sus propinas\n\nSon suyas. <script>alert(1)</script>",
            "reviewed_on": "2026-11-01",
        },
    )
    assert response.status_code == 303
    preview = page(browser, response.headers["Location"])
    # The preview is the public piece, in the article's language, its script made text.
    assert "Información general, no asesoría legal." in preview
    assert "Escrito por un abogado que trabaja con el programa." in preview
    assert "&lt;script&gt;" in preview and "<script>" not in preview
    assert "Publish this version" not in preview
    version = db.session.scalars(select(ArticleVersion)).one()
    refused = browser.post(f"/staff/rights/versions/{version.id}/publish", data=hidden_fields(preview))
    assert refused.status_code == 404
    db.session.refresh(version)
    assert version.state == "draft"
    page(client, "/rights/tips", 404)


def test_a_coordinator_publishes_a_new_version_and_withdraws_it(client: FlaskClient, app: Flask) -> None:
    published("tips", "Tips, first")
    coordinator = make_staff("coordinator")
    browser = signed_in(app, coordinator)
    article = library.find_by_slug("tips")
    assert article is not None
    html = page(browser, f"/staff/rights/{article.id}")
    assert "Tips, first" in html and 'value="Tips, first"' in html  # the form starts from it
    form = hidden_fields(html)
    response = browser.post(
        f"/staff/rights/{article.id}/versions",
        data={
            **form,
            "language": "en",
            "title": "Tips, second",
            "summary": "Still yours.",
            "body": "Yours.",
            "reviewed_on": "2026-12-01",
        },
    )
    assert response.status_code == 303
    assert "Tips, first" in page(client, "/rights/tips")  # a draft changes nothing public
    preview = page(browser, response.headers["Location"])
    publish = browser.post(response.headers["Location"] + "/publish", data=hidden_fields(preview))
    assert publish.status_code == 303
    assert "Tips, second" in page(client, "/rights/tips")
    listing = page(browser, f"/staff/rights/{article.id}")
    assert "Tips, first" in listing and "withdrawn" in listing  # the old one stays listed
    withdraw = browser.post(response.headers["Location"] + "/unpublish", data=hidden_fields(preview))
    assert withdraw.status_code == 303
    page(client, "/rights/tips", 404)


def test_responders_and_reporters_have_no_staff_library(client: FlaskClient, app: Flask) -> None:
    responder = signed_in(app, make_staff("responder"))
    assert responder.get("/staff/rights").status_code == 404
    assert "/staff/rights" not in page(responder, "/cases")
    case = make_case()
    open_status(client, case.receipt)  # type: ignore[attr-defined]
    assert client.get("/staff/rights").status_code == 303  # to the staff sign-in, like any staff page
    # Both still read the public library.
    assert responder.get("/rights").status_code == 200 and client.get("/rights").status_code == 200


def test_the_staff_library_is_english_whatever_the_browser(client: FlaskClient, app: Flask) -> None:
    browser = signed_in(app, make_staff("coordinator"))
    html = page(browser, "/staff/rights", headers=SPANISH)
    assert '<html lang="en">' in html and "Know-your-rights library" in html
    assert "Rape or attempted rape" in html  # the match labels, in English
    assert page(browser, "/rights", headers=KOREAN).startswith('<!doctype html>\n<html lang="ko">')
