"""Messages are numbered in their thread, so their times can be kept to the minute.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as table:
        table.add_column(sa.Column("number", sa.Integer(), nullable=False, server_default="0"))
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, case_id FROM messages ORDER BY case_id, created_at, id")).all()
    counts: dict[str, int] = {}
    for message_id, case_id in rows:
        counts[case_id] = counts.get(case_id, 0) + 1
        connection.execute(
            sa.text("UPDATE messages SET number = :number WHERE id = :id"),
            {"number": counts[case_id], "id": message_id},
        )
    # Times already stored keep their precision; from now on they are written to the minute.


def downgrade() -> None:
    with op.batch_alter_table("messages") as table:
        table.drop_column("number")
