"""Responder wellbeing: a break's return time on each staff account, and indexes for the
cases each person was given lately (by routing, or held since a coordinator's assignment).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as table:
        table.add_column(sa.Column("break_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_routing_rounds_staff_started", "routing_rounds", ["staff_id", "started_at"])
    op.create_index("ix_cases_assignee_assigned", "cases", ["assigned_to_id", "assigned_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_assignee_assigned", table_name="cases")
    op.drop_index("ix_routing_rounds_staff_started", table_name="routing_rounds")
    with op.batch_alter_table("staff_users") as table:
        table.drop_column("break_until")
