"""What a resent form needs: a keyed digest of the report's answers, and when its receipt
first opened the case.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as table:
        table.add_column(sa.Column("submission_digest", sa.LargeBinary(32), nullable=True))
        table.add_column(sa.Column("receipt_used_at", sa.DateTime(timezone=True), nullable=True))
    # A case whose reporter has a session open has had its receipt used.
    op.execute("UPDATE cases SET receipt_used_at = created_at WHERE id IN (SELECT case_id FROM reporter_sessions)")


def downgrade() -> None:
    with op.batch_alter_table("cases") as table:
        table.drop_column("receipt_used_at")
        table.drop_column("submission_digest")
