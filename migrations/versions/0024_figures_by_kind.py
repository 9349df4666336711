"""The figures' index leads with the kind of case: the timings of reports and of support
requests are each read from their own part of it, without visiting the table.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05
"""

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

COLUMNS = [
    "created_at",
    "level",
    "status",
    "acknowledged_at",
    "ack_due_at",
    "first_reply_at",
    "feedback_due_at",
    "closed_at",
]


def upgrade() -> None:
    with op.batch_alter_table("cases") as table:
        table.drop_index("ix_cases_figures")
        table.create_index("ix_cases_figures", ["kind", *COLUMNS])


def downgrade() -> None:
    with op.batch_alter_table("cases") as table:
        table.drop_index("ix_cases_figures")
        table.create_index("ix_cases_figures", COLUMNS)
