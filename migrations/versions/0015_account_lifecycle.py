"""Account lifecycle: a new TOTP device waiting for its first code, and account notices to
an address other than the current one (the old address after an email change).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as table:
        table.add_column(sa.Column("pending_totp_sealed", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("notifications") as table:
        table.add_column(sa.Column("address", sa.String(254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as table:
        table.drop_column("address")
    with op.batch_alter_table("staff_users") as table:
        table.drop_column("pending_totp_sealed")
