"""Writing the library: new articles, new versions, publishing and withdrawing.

Counsel and coordinators write drafts; only coordinators publish, withdraw, or change which
cases an article is offered to, since those change what the public reads. Every step is
committed, then announced (the audit log records it): ids, languages and numbers, never the
text. ``by`` None is the system (``flask rights seed``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.access import COORDINATOR, COUNSEL
from app.config import current_settings
from app.extensions import db
from app.models import take_write_lock, utcnow
from app.rights.models import DRAFT, PUBLISHED, WITHDRAWN, Article, ArticleVersion
from app.rights.topics import known_matches
from app.signals import announce
from app.staff.models import StaffUser

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
WRITERS = (COUNSEL, COORDINATOR)
SYSTEM = ("", "system")


class LibraryError(Exception):
    """A change the library refuses, in words for the staff member who asked."""


@dataclass(frozen=True)
class Draft:
    """One version as written: its language, words and review date."""

    language: str
    title: str
    summary: str
    body: str
    reviewed_on: date


def _actor(by: StaffUser | None) -> tuple[str, str]:
    return (by.id, by.role) if by is not None else SYSTEM


def _check_writer(by: StaffUser | None, author_role: str) -> None:
    if author_role not in WRITERS or (by is not None and by.role != author_role):
        raise LibraryError("Only counsel and coordinators write articles.")


def _check_publisher(by: StaffUser | None) -> None:
    if by is not None and by.role != COORDINATOR:
        raise LibraryError("Only coordinators publish or withdraw articles.")


def _check_draft(draft: Draft) -> None:
    if draft.language not in current_settings().languages:
        raise LibraryError("Choose one of the program's languages.")
    if not (draft.title.strip() and draft.summary.strip() and draft.body.strip()):
        raise LibraryError("A version needs a title, a summary and a body.")


def all_articles() -> list[Article]:
    """Every article with all its versions, for staff, by slug."""
    query = select(Article).options(selectinload(Article.versions)).order_by(Article.slug)
    return list(db.session.scalars(query))


def find_article(article_id: str) -> Article | None:
    return db.session.get(Article, article_id)


def find_version(version_id: int) -> ArticleVersion | None:
    return db.session.get(ArticleVersion, version_id)


def find_by_slug(slug: str) -> Article | None:
    return db.session.scalar(select(Article).where(Article.slug == slug))


def _locked(article_id: str) -> Article:
    """The article, with no other change to the library running until this one commits
    (PostgreSQL locks the row; SQLite the database)."""
    take_write_lock(Article.slug)
    article = db.session.scalars(
        select(Article).where(Article.id == article_id).with_for_update().execution_options(populate_existing=True)
    ).one()
    return article


def _new_version(article: Article, draft: Draft, *, author_role: str, by: StaffUser | None) -> ArticleVersion:
    last = db.session.scalar(
        select(func.max(ArticleVersion.number)).where(
            ArticleVersion.article_id == article.id, ArticleVersion.language == draft.language
        )
    )
    version = ArticleVersion(
        article_id=article.id,
        language=draft.language,
        number=(last or 0) + 1,
        title=draft.title.strip(),
        summary=draft.summary.strip(),
        body=draft.body.strip() + "\n",
        reviewed_on=draft.reviewed_on,
        author_role=author_role,
        author_id=by.id if by is not None else None,
        state=DRAFT,
    )
    db.session.add(version)
    db.session.flush()
    return version


def start_article(
    slug: str, matches: Iterable[str], draft: Draft, *, by: StaffUser | None, author_role: str | None = None
) -> ArticleVersion:
    """A new article at /rights/``slug`` and its first version, a draft."""
    role = author_role or (by.role if by is not None else "")
    _check_writer(by, role)
    _check_draft(draft)
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug) or len(slug) > 80:
        raise LibraryError("The address may hold only lower-case letters, digits and single hyphens.")
    take_write_lock(Article.slug)
    if find_by_slug(slug) is not None:
        db.session.rollback()
        raise LibraryError(f"An article already has the address /rights/{slug}.")
    article = Article(slug=slug, matches=known_matches(matches), created_by_id=by.id if by is not None else None)
    db.session.add(article)
    try:
        db.session.flush()
    except IntegrityError:  # the same address, begun at the same moment on PostgreSQL
        db.session.rollback()
        raise LibraryError(f"An article already has the address /rights/{slug}.") from None
    version = _new_version(article, draft, author_role=role, by=by)
    db.session.commit()
    actor, actor_role = _actor(by)
    announce("rights_article_created", actor=actor, role=actor_role, article=article.id, slug=slug)
    _announce_version("rights_version_drafted", version, by)
    return version


def add_version(
    article: Article, draft: Draft, *, by: StaffUser | None, author_role: str | None = None
) -> ArticleVersion:
    """A new draft of ``article`` in ``draft.language``; what is published stays as it is."""
    role = author_role or (by.role if by is not None else "")
    _check_writer(by, role)
    _check_draft(draft)
    locked = _locked(article.id)
    version = _new_version(locked, draft, author_role=role, by=by)
    db.session.commit()
    _announce_version("rights_version_drafted", version, by)
    return version


def publish(version: ArticleVersion, *, by: StaffUser | None) -> bool:
    """Make ``version`` the one the public reads in its language; the one it replaces is
    withdrawn. False if it was already published."""
    _check_publisher(by)
    _locked(version.article_id)
    db.session.refresh(version)
    if version.state == PUBLISHED:
        db.session.rollback()
        return False
    replaced = db.session.scalars(
        select(ArticleVersion).where(
            ArticleVersion.article_id == version.article_id,
            ArticleVersion.language == version.language,
            ArticleVersion.state == PUBLISHED,
        )
    ).all()
    for old in replaced:
        old.state = WITHDRAWN
    db.session.flush()  # the old one leaves before the new one arrives: one published at a time
    version.state, version.published_at = PUBLISHED, utcnow()
    version.published_by_id = by.id if by is not None else None
    db.session.commit()
    _announce_version("rights_version_published", version, by, replaced=[old.number for old in replaced])
    return True


def unpublish(version: ArticleVersion, *, by: StaffUser | None) -> bool:
    """Take ``version`` off the public pages (its language then has none published). False if
    it was not published."""
    _check_publisher(by)
    _locked(version.article_id)
    db.session.refresh(version)
    if version.state != PUBLISHED:
        db.session.rollback()
        return False
    version.state = WITHDRAWN
    db.session.commit()
    _announce_version("rights_version_withdrawn", version, by)
    return True


def change_matches(article: Article, matches: Iterable[str], *, by: StaffUser) -> bool:
    """Which cases are shown a link to ``article``; False if nothing changed."""
    _check_publisher(by)
    locked = _locked(article.id)
    wanted = known_matches(matches)
    if wanted == list(locked.matches):
        db.session.rollback()
        return False
    locked.matches = wanted
    db.session.commit()
    announce("rights_matches_changed", actor=by.id, role=by.role, article=article.id, matches=wanted)
    return True


def _announce_version(
    name: str, version: ArticleVersion, by: StaffUser | None, *, replaced: list[int] | None = None
) -> None:
    actor, role = _actor(by)
    detail: dict[str, object] = {
        "article": version.article_id,
        "version": version.id,
        "language": version.language,
        "number": version.number,
    }
    if replaced is not None:
        detail["replaced"] = replaced
    announce(name, actor=actor, role=role, case_id=None, **detail)
