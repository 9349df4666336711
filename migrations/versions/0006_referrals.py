"""Referrals to counsel, and the counsel directory.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "counsel_profiles",
        sa.Column("staff_id", sa.String(36), sa.ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("firm", sa.String(200), nullable=False),
        sa.Column("practice_areas", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("age_recipient", sa.String(128), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
    )
    op.create_table(
        "referrals",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("counsel_id", sa.String(36), sa.ForeignKey("staff_users.id"), nullable=False),
        sa.Column("created_by_id", sa.String(36), sa.ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("identity_disclosed", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.Column("acknowledged_at", UTC_DATETIME, nullable=True),
        sa.Column("decided_at", UTC_DATETIME, nullable=True),
        sa.Column("ended_at", UTC_DATETIME, nullable=True),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("packet", sa.LargeBinary(), nullable=True),
        sa.Column("packet_sha256", sa.String(64), nullable=True),
    )
    op.create_index("ix_referrals_case_id", "referrals", ["case_id"])
    op.create_index("ix_referrals_counsel_status", "referrals", ["counsel_id", "status", "sent_at"])


def downgrade() -> None:
    op.drop_table("referrals")
    op.drop_table("counsel_profiles")
