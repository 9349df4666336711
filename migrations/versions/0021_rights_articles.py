"""The know-your-rights library: articles and their versions (Markdown only; the HTML is made
and sanitised when shown). `flask rights seed` fills it with the articles Confide ships.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rights_articles",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("slug", sa.String(80), nullable=False, unique=True),
        sa.Column("matches", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.String(36), sa.ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True),
    )
    op.create_table(
        "rights_article_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("article_id", sa.String(36), sa.ForeignKey("rights_articles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("summary", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("reviewed_on", sa.Date(), nullable=False),
        sa.Column("author_role", sa.String(16), nullable=False),
        sa.Column("author_id", sa.String(36), sa.ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "published_by_id", sa.String(36), sa.ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.UniqueConstraint("article_id", "language", "number", name="uq_rights_version_number"),
    )
    # One published version per article and language.
    op.create_index(
        "uq_rights_published",
        "rights_article_versions",
        ["article_id", "language"],
        unique=True,
        sqlite_where=sa.text("state = 'published'"),
        postgresql_where=sa.text("state = 'published'"),
    )


def downgrade() -> None:
    op.drop_index("uq_rights_published", table_name="rights_article_versions")
    op.drop_table("rights_article_versions")
    op.drop_table("rights_articles")
