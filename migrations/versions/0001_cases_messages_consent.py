"""Cases, their messages, and consent records.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("receipt_index", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("submission_index", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("routing_state", sa.String(24), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("county", sa.String(24), nullable=True),
        sa.Column("is_named", sa.Boolean(), nullable=False),
        sa.Column("ack_due_at", UTC_DATETIME, nullable=False),
        sa.Column("feedback_due_at", UTC_DATETIME, nullable=False),
        sa.Column("queued_at", UTC_DATETIME, nullable=True),
        sa.Column("dek_scheme", sa.String(32), nullable=False),
        sa.Column("dek_key_id", sa.String(64), nullable=False),
        sa.Column("dek_wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("report_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("contact_sealed", sa.LargeBinary(), nullable=True),
    )
    op.create_index("ix_cases_routing_state_created", "cases", ["routing_state", "created_at"])

    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", UTC_DATETIME, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
    )
    op.create_index("ix_consent_case_purpose", "consent_records", ["case_id", "purpose", "id"])

    op.create_table(
        "messages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("author", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("body_sealed", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_messages_case_id", "messages", ["case_id"])


def downgrade() -> None:
    op.drop_table("messages")
    op.drop_table("consent_records")
    op.drop_table("cases")
