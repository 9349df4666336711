"""Routing: rounds and deadlines, reporters' exclusions, and the notification outbox.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("routing_round", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "case_exclusions",
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("staff_id", sa.String(36), sa.ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_table(
        "routing_rounds",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.String(36), sa.ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("due_at", UTC_DATETIME, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.UniqueConstraint("case_id", "number", name="uq_routing_rounds_case_number"),
    )
    op.create_index("ix_routing_rounds_case_id", "routing_rounds", ["case_id"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("recipient", sa.String(16), nullable=False),
        sa.Column("staff_id", sa.String(36), sa.ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.Column("dedupe_key", sa.String(160), nullable=False, unique=True),
    )
    op.create_index("ix_notifications_unsent", "notifications", ["sent_at", "recipient", "staff_id"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("routing_rounds")
    op.drop_table("case_exclusions")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("routing_round")
