"""The library's articles and their versions.

An article is a stable slug and the cases it speaks to; what it says is in its versions, one
language each. A version is never changed once written: an edit is a new version. At most one
version per article and language is published, and that one is what the public reads; the
others stay listed for staff. Only Markdown is stored: the HTML is made from it, sanitised,
each time it is shown (``app.rights.rendering``), so nothing stored is ever trusted as HTML.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.models import UTCDateTime, new_id, utcnow

DRAFT, PUBLISHED, WITHDRAWN = "draft", "published", "withdrawn"
STATES = (DRAFT, PUBLISHED, WITHDRAWN)


class Article(Model):
    __tablename__ = "rights_articles"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # The article's address, /rights/<slug>: lower-case letters, digits and hyphens; never changed.
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    # The report categories (app.vocabulary.CATEGORIES) and help topics (app.rights.topics)
    # whose reporters are shown a link to it.
    matches: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Who began it; None for an article seeded from the files shipped with Confide.
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))

    versions: Mapped[list[ArticleVersion]] = relationship(
        back_populates="article",
        cascade="all, delete-orphan",
        order_by=lambda: [ArticleVersion.language, ArticleVersion.number.desc()],
    )


class ArticleVersion(Model):
    __tablename__ = "rights_article_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[str] = mapped_column(ForeignKey("rights_articles.id", ondelete="CASCADE"))
    # A configured language tag ("es", "zh-Hans").
    language: Mapped[str] = mapped_column(String(16))
    # 1, 2, 3… within the article and language.
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(300))
    # Markdown (CommonMark, raw HTML off).
    body: Mapped[str] = mapped_column(Text)
    # When its facts were last checked, shown to readers.
    reviewed_on: Mapped[date] = mapped_column(Date)
    # The writer's role when it was written ("counsel" or "coordinator"): what readers are told.
    author_role: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16), default=DRAFT)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_by_id: Mapped[str | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))

    article: Mapped[Article] = relationship(back_populates="versions")

    __table_args__ = (
        UniqueConstraint("article_id", "language", "number", name="uq_rights_version_number"),
        # One published version per article and language, whatever two coordinators do at once.
        Index(
            "uq_rights_published",
            "article_id",
            "language",
            unique=True,
            sqlite_where=text("state = 'published'"),
            postgresql_where=text("state = 'published'"),
        ),
    )
