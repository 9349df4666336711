"""Reporter sessions on the server: signing out ends every copy of the cookie.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reporter_sessions",
        sa.Column("token_index", sa.LargeBinary(32), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_reporter_sessions_case_id", "reporter_sessions", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_reporter_sessions_case_id", table_name="reporter_sessions")
    op.drop_table("reporter_sessions")
