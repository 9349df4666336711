"""The library as the public reads it: published versions only, in her language, or else in
English and said so. Reading is not recorded anywhere: no audit entry, no log, no count."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup
from sqlalchemy import select

from app.extensions import db
from app.rights.models import PUBLISHED, Article, ArticleVersion
from app.rights.rendering import render_markdown

FALLBACK = "en"


@dataclass(frozen=True)
class Listing:
    """An article as a link: its address, title and one-line summary, in ``language``."""

    slug: str
    language: str
    title: str
    summary: str
    # Not in the language she reads the site in: shown in English, and labelled so.
    in_english_instead: bool


@dataclass(frozen=True)
class Reading:
    """A published version, ready to show: its HTML is sanitised (``app.rights.rendering``)."""

    slug: str
    language: str
    title: str
    summary: str
    html: Markup
    reviewed_on: date
    author_role: str
    in_english_instead: bool


def _published(languages: Iterable[str], slug: str | None = None) -> list[tuple[Article, ArticleVersion]]:
    query = (
        select(Article, ArticleVersion)
        .join(ArticleVersion, ArticleVersion.article_id == Article.id)
        .where(ArticleVersion.state == PUBLISHED, ArticleVersion.language.in_(set(languages)))
    )
    if slug is not None:
        query = query.where(Article.slug == slug)
    return [(article, version) for article, version in db.session.execute(query)]


def _best(language: str, slug: str | None = None) -> list[tuple[Article, ArticleVersion]]:
    """Each article once: its version in ``language`` if published, else its English one."""
    chosen: dict[str, tuple[Article, ArticleVersion]] = {}
    for article, version in _published({language, FALLBACK}, slug):
        if article.id not in chosen or version.language == language:
            chosen[article.id] = (article, version)
    return sorted(chosen.values(), key=lambda pair: (pair[1].title.casefold(), pair[0].slug))


def _listing(article: Article, version: ArticleVersion, language: str) -> Listing:
    return Listing(article.slug, version.language, version.title, version.summary, version.language != language)


def library(language: str) -> list[Listing]:
    """Every published article, for a reader of ``language``."""
    return [_listing(article, version, language) for article, version in _best(language)]


def matching(keys: Iterable[str], language: str) -> list[Listing]:
    """The published articles that speak to a case with ``keys`` (``app.rights.topics.case_keys``)."""
    wanted = set(keys)
    return [
        _listing(article, version, language) for article, version in _best(language) if wanted & set(article.matches)
    ]


def as_reading(version: ArticleVersion, slug: str, language: str) -> Reading:
    """``version`` as readers of ``language`` are shown it (a preview too)."""
    return Reading(
        slug=slug,
        language=version.language,
        title=version.title,
        summary=version.summary,
        html=Markup(render_markdown(version.body)),  # noqa: S704  (sanitised by nh3's allowlist)
        reviewed_on=version.reviewed_on,
        author_role=version.author_role,
        in_english_instead=version.language != language,
    )


def article(slug: str, language: str) -> Reading | None:
    """The article at ``slug`` for a reader of ``language``, or None if nothing is published
    in her language or in English."""
    found = _best(language, slug)
    if not found:
        return None
    _article, version = found[0]
    return as_reading(version, slug, language)
