"""The articles Confide ships, loaded into the library by ``flask rights seed``.

Each file in ``articles/`` is one article in one language, named ``<slug>.<language>.md``: a
few lines of front matter between two ``---`` lines, then the Markdown body. Lines of the front
matter that begin with ``#`` are notes for whoever maintains the file (the public sources of
what it says) and are never shown.

Seeding is safe to run again and again: an article and language that the library already
holds are left exactly as they are, so nothing staff wrote, published or withdrew is ever
overwritten. What is new is added as version 1 and published, by the system.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select

from app.config import current_settings
from app.extensions import db
from app.rights import library
from app.rights.models import ArticleVersion

ARTICLES = Path(__file__).with_name("articles")
FIELDS = frozenset({"title", "summary", "reviewed", "author", "matches"})


class SeedError(Exception):
    pass


@dataclass(frozen=True)
class SeedFile:
    slug: str
    matches: tuple[str, ...]
    author_role: str
    draft: library.Draft


def read_seed(path: Path) -> SeedFile:
    """One article file: its slug and language from its name, the rest from inside."""
    slug, _dot, language = path.name.removesuffix(".md").partition(".")
    text = path.read_text(encoding="utf-8")
    opening, _sep, rest = text.partition("---\n")
    front, sep, body = rest.partition("\n---\n")
    if opening.strip() or not sep:
        raise SeedError(f"{path.name}: the front matter must come first, between two --- lines")
    fields: dict[str, str] = {}
    for line in front.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, colon, value = line.partition(":")
        if not colon or name.strip() not in FIELDS:
            raise SeedError(f"{path.name}: {line!r} is not one of {sorted(FIELDS)}")
        fields[name.strip()] = value.strip()
    missing = FIELDS - fields.keys()
    if missing:
        raise SeedError(f"{path.name}: missing {sorted(missing)}")
    return SeedFile(
        slug=slug,
        matches=tuple(code.strip() for code in fields["matches"].split(",") if code.strip()),
        author_role=fields["author"],
        draft=library.Draft(
            language=language,
            title=fields["title"],
            summary=fields["summary"],
            body=body,
            reviewed_on=date.fromisoformat(fields["reviewed"]),
        ),
    )


def seed_files(folder: Path = ARTICLES) -> list[SeedFile]:
    """Every article file, English first (an article is begun in English when it can be)."""
    files = [read_seed(path) for path in sorted(folder.glob("*.md"))]
    return sorted(files, key=lambda seed: (seed.slug, seed.draft.language != "en", seed.draft.language))


def seed(folder: Path = ARTICLES) -> list[str]:
    """Add and publish what the library lacks; returns what was added ("slug (language)").
    Languages the program does not offer are skipped."""
    languages = current_settings().languages
    added = []
    for item in seed_files(folder):
        if item.draft.language not in languages:
            continue
        article = library.find_by_slug(item.slug)
        if article is None:
            version = library.start_article(item.slug, item.matches, item.draft, by=None, author_role=item.author_role)
        elif _has_language(article.id, item.draft.language):
            continue
        else:
            version = library.add_version(article, item.draft, by=None, author_role=item.author_role)
        library.publish(version, by=None)
        added.append(f"{item.slug} ({item.draft.language})")
    return added


def _has_language(article_id: str, language: str) -> bool:
    query = select(ArticleVersion.id).where(
        ArticleVersion.article_id == article_id, ArticleVersion.language == language
    )
    return db.session.scalar(query.limit(1)) is not None
