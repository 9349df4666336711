"""The audit chain's head is sealed, so it cannot be moved back without the keyring.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Sealed by the next entry written; `flask audit verify` reports it unsealed until then.
    with op.batch_alter_table("audit_head") as table:
        table.add_column(sa.Column("mac", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_head") as table:
        table.drop_column("mac")
