"""Paging through a second channel: each coordinator's sealed paging address, and every page
attempted for an urgent notice.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as table:
        table.add_column(sa.Column("paging_sealed", sa.LargeBinary(), nullable=True))
    op.create_index("ix_notifications_kind_created", "notifications", ["kind", "created_at"])
    op.create_table(
        "page_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("staff_id", sa.String(36), sa.ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "notification_id",
            sa.Integer(),
            sa.ForeignKey("notifications.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("error", sa.String(64), nullable=True),
        sa.Column(
            "fallback_staff_id", sa.String(36), sa.ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True
        ),
    )
    op.create_index("ix_page_attempts_case_id", "page_attempts", ["case_id"])


def downgrade() -> None:
    op.drop_table("page_attempts")
    op.drop_index("ix_notifications_kind_created", table_name="notifications")
    with op.batch_alter_table("staff_users") as table:
        table.drop_column("paging_sealed")
