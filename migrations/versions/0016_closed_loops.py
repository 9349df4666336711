"""Loops that close: a case marked unread when the reporter writes, until whoever has it
opens it; and why a routing round found nobody eligible.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as table:
        table.add_column(sa.Column("reporter_unread", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("routing_rounds") as table:
        table.add_column(sa.Column("reason", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("routing_rounds") as table:
        table.drop_column("reason")
    with op.batch_alter_table("cases") as table:
        table.drop_column("reporter_unread")
