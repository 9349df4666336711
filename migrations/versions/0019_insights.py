"""The program's figures: answers counted per month as reports are filed, and when a case was
first answered and last closed.

Reports filed before this revision are counted by ``flask insights recount``, which needs the
keyring to read the answers kept sealed.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_tallies",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("question", sa.String(32), primary_key=True),
        sa.Column("answer", sa.String(32), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    with op.batch_alter_table("cases") as table:
        table.add_column(sa.Column("first_reply_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        # The figures read a period's cases from this index alone (app/cases/models.py).
        table.create_index(
            "ix_cases_figures",
            [
                "created_at",
                "level",
                "status",
                "acknowledged_at",
                "ack_due_at",
                "first_reply_at",
                "feedback_due_at",
                "closed_at",
            ],
        )
    # The first answer is on record; for a case closed before, its last change is the nearest
    # time to its closing that is kept.
    op.execute(
        "UPDATE cases SET first_reply_at = (SELECT min(messages.created_at) FROM messages"
        " WHERE messages.case_id = cases.id AND messages.author = 'staff')"
    )
    op.execute("UPDATE cases SET closed_at = updated_at WHERE status = 'closed'")


def downgrade() -> None:
    with op.batch_alter_table("cases") as table:
        table.drop_index("ix_cases_figures")
        table.drop_column("closed_at")
        table.drop_column("first_reply_at")
    op.drop_table("report_tallies")
