"""A reporter's exclusions kept as keyed indexes of case and person, never the person.

The indexes need the keyring, so this runs inside the app (as every migration does here).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from app.cases.exclusions import exclusion_index

    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT case_id, staff_id FROM case_exclusions")).all()
    op.drop_table("case_exclusions")
    table = op.create_table(
        "case_exclusions",
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("staff_index", sa.LargeBinary(32), primary_key=True),
    )
    if rows:
        op.bulk_insert(
            table,
            [{"case_id": case_id, "staff_index": exclusion_index(case_id, staff_id)} for case_id, staff_id in rows],
        )


def downgrade() -> None:
    # The people cannot be read back from the indexes: the exclusions are lost.
    op.drop_table("case_exclusions")
    op.create_table(
        "case_exclusions",
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("staff_id", sa.String(36), sa.ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True),
    )
