"""Feedback reminders: where each case stands on the reporter hearing back.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("feedback_stage", sa.String(12), nullable=False, server_default="waiting"))
    # Cases staff have already written about need no reminder.
    op.execute(
        "UPDATE cases SET feedback_stage = 'answered' WHERE EXISTS "
        "(SELECT 1 FROM messages WHERE messages.case_id = cases.id AND messages.author = 'staff')"
    )
    op.create_index("ix_cases_feedback", "cases", ["feedback_stage", "feedback_due_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_feedback", "cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("feedback_stage")
