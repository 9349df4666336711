"""Retention: legal holds and the reporter's last return on cases; the de-identified statistics
row a shredded case leaves; the list of shredded case ids.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-12
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as table:
        table.add_column(sa.Column("reporter_seen_on", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("hold_reason", sa.String(24), nullable=True))
        table.add_column(sa.Column("held_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "case_statistics",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("county", sa.String(24), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("closed_reason", sa.String(32), nullable=True),
        sa.Column("ended_by", sa.String(12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ack_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("feedback_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_reply_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_case_statistics_created", "case_statistics", ["created_at", "kind"])
    op.create_table(
        "shredded_cases",
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("shredded_on", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(12), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("shredded_cases")
    op.drop_index("ix_case_statistics_created", "case_statistics")
    op.drop_table("case_statistics")
    with op.batch_alter_table("cases") as table:
        table.drop_column("held_at")
        table.drop_column("hold_reason")
        table.drop_column("reporter_seen_on")
