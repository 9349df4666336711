"""Queue indexes that give the full queue order, and indexes for counting filters.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_queue")
        batch.drop_index("ix_cases_assignee_queue")
        batch.create_index("ix_cases_queue", ["queue_rank", "level", "ack_due_at", "id"])
        batch.create_index("ix_cases_assignee_queue", ["assigned_to_id", "queue_rank", "level", "ack_due_at", "id"])
        batch.create_index("ix_cases_status_level", ["status", "level"])
        batch.create_index("ix_cases_category_language", ["category", "language"])


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_category_language")
        batch.drop_index("ix_cases_status_level")
        batch.drop_index("ix_cases_assignee_queue")
        batch.drop_index("ix_cases_queue")
        batch.create_index("ix_cases_queue", ["queue_rank", "level", "ack_due_at"])
        batch.create_index("ix_cases_assignee_queue", ["assigned_to_id", "queue_rank", "level", "ack_due_at"])
