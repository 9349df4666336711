"""Writing the library: versions kept, one published per language, who may do what, the
audit trail, and the shipped articles seeded once."""

from __future__ import annotations

import re
from datetime import date

import pytest
from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.rights import library, reading
from app.rights.models import Article, ArticleVersion
from app.rights.seed import ARTICLES, read_seed, seed
from tests.factories import make_staff


def draft(
    title: str = "Your tips are yours", language: str = "en", body: str = "Nobody may keep them."
) -> library.Draft:
    return library.Draft(language, title, f"{title}: in short.", body, date(2026, 11, 30))


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_an_edit_is_a_new_version_and_the_public_reads_the_published_one(app: Flask) -> None:
    counsel, coordinator = make_staff("counsel").user, make_staff("coordinator").user
    first = library.start_article("tips", ["exploitation"], draft("Tips, first"), by=counsel)
    assert reading.library("en") == []  # a draft is not public
    library.publish(first, by=coordinator)
    second = library.add_version(first.article, draft("Tips, second"), by=counsel)
    assert second.number == 2 and second.state == "draft"
    found = reading.article("tips", "en")
    assert found is not None and found.title == "Tips, first"  # the draft changed nothing public

    assert library.publish(second, by=coordinator)
    db.session.refresh(first)
    assert first.state == "withdrawn" and second.state == "published"
    found = reading.article("tips", "en")
    assert found is not None and found.title == "Tips, second"
    # Every version stays, for staff, with its own words.
    versions = db.session.scalars(select(ArticleVersion).order_by(ArticleVersion.number)).all()
    assert [(v.number, v.title, v.state) for v in versions] == [
        (1, "Tips, first", "withdrawn"),
        (2, "Tips, second", "published"),
    ]

    assert library.unpublish(second, by=coordinator)
    assert reading.article("tips", "en") is None and reading.library("en") == []
    assert not library.unpublish(second, by=coordinator)  # once is enough


def test_counsel_drafts_but_only_coordinators_publish(app: Flask) -> None:
    counsel, responder = make_staff("counsel").user, make_staff("responder").user
    version = library.start_article("wages", ["exploitation"], draft(), by=counsel)
    with pytest.raises(library.LibraryError):
        library.publish(version, by=counsel)
    with pytest.raises(library.LibraryError):
        library.start_article("other", [], draft(), by=responder)
    db.session.refresh(version)
    assert version.state == "draft" and reading.library("en") == []
    assert version.author_role == "counsel" and version.author_id == counsel.id


def test_one_version_per_language_is_published_each_on_its_own(app: Flask) -> None:
    coordinator = make_staff("coordinator").user
    english = library.start_article("documents", ["exploitation"], draft("Your documents"), by=coordinator)
    spanish = library.add_version(english.article, draft("Sus documentos", "es"), by=coordinator)
    assert spanish.number == 1  # numbered within its language
    library.publish(english, by=coordinator)
    library.publish(spanish, by=coordinator)
    assert [item.title for item in reading.library("es")] == ["Sus documentos"]
    assert [item.title for item in reading.library("en")] == ["Your documents"]
    # A reader of a language it is not written in is offered the English, marked so.
    [korean] = reading.library("ko")
    assert korean.title == "Your documents" and korean.in_english_instead


def test_every_step_is_audited_without_the_text(app: Flask) -> None:
    counsel, coordinator = make_staff("counsel").user, make_staff("coordinator").user
    version = library.start_article("audited", ["other"], draft(body="SECRET-BODY-WORDS"), by=counsel)
    library.publish(version, by=coordinator)
    library.unpublish(version, by=coordinator)
    library.change_matches(version.article, ["rape", "licensing", "not-a-key"], by=coordinator)
    assert actions() == [
        "rights_article_created",
        "rights_version_drafted",
        "rights_version_published",
        "rights_version_withdrawn",
        "rights_matches_changed",
    ]
    entries = db.session.scalars(select(AuditEntry)).all()
    assert {e.actor_id for e in entries} == {counsel.id, coordinator.id}
    assert all("SECRET-BODY-WORDS" not in str(e.detail) for e in entries)
    assert db.session.scalars(select(Article.matches)).one() == ["rape", "licensing"]


def test_slugs_are_plain_and_never_taken_twice(app: Flask) -> None:
    coordinator = make_staff("coordinator").user
    library.start_article("after-an-assault", [], draft(), by=coordinator)
    for slug in ("after-an-assault", "Spaces here", "../etc", "a--b", ""):
        with pytest.raises(library.LibraryError):
            library.start_article(slug, [], draft(), by=coordinator)
    assert db.session.scalars(select(Article.slug)).all() == ["after-an-assault"]


def test_seeding_publishes_the_shipped_articles_once_and_leaves_staff_work_alone(app: Flask) -> None:
    added = seed()
    files = sorted(ARTICLES.glob("*.md"))
    assert len(added) == len(files) >= 8
    languages = {read_seed(path).draft.language for path in files}
    assert {"en", "es"} <= languages
    for language in ("en", "es"):
        listed = reading.library(language)
        assert len(listed) >= 4 and not any(item.in_english_instead for item in listed)

    # A coordinator withdraws one and edits another; seeding again changes neither.
    coordinator = make_staff("coordinator").user
    assault = library.find_by_slug("after-a-sexual-assault")
    assert assault is not None
    [english] = [v for v in assault.versions if v.language == "en"]
    library.unpublish(english, by=coordinator)
    before = db.session.scalar(select(ArticleVersion.id).order_by(ArticleVersion.id.desc()))
    assert seed() == []
    assert db.session.scalar(select(ArticleVersion.id).order_by(ArticleVersion.id.desc())) == before
    assert reading.article("after-a-sexual-assault", "en") is None
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "rights_version_published")).all()
    assert entries and all(e.actor_role == "system" for e in entries if e.actor_id == "")


def test_every_shipped_article_says_what_it_is_and_invents_no_number() -> None:
    for path in sorted(ARTICLES.glob("*.md")):
        item = read_seed(path)
        text = path.read_text(encoding="utf-8")
        front = text.split("\n---\n", 1)[0]
        assert item.author_role in ("coordinator", "counsel"), path.name
        assert item.matches, path.name
        # Every service or law it names has its public source in the file's notes.
        assert "Source" in front or "Fuentes" in front, path.name
        # The only number to call is 911: every other way to reach help is on the help page.
        assert re.findall(r"\d[\d\-() ]{5,}\d", item.draft.body) == [], path.name


def test_the_seed_command_can_run_at_every_start(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["rights", "seed"])
    assert first.exit_code == 0, first.output
    assert "Added and published after-a-sexual-assault (es)." in first.output
    again = runner.invoke(args=["rights", "seed"])
    assert again.exit_code == 0 and "(0 added now)" in again.output
