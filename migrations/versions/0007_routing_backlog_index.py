"""Waiting cases by routing state, level and age: a routing job takes the most urgent and
oldest of a backlog with one index range scan.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_cases_routing_state_created", table_name="cases")
    op.create_index("ix_cases_routing_waiting", "cases", ["routing_state", "level", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_routing_waiting", table_name="cases")
    op.create_index("ix_cases_routing_state_created", "cases", ["routing_state", "created_at"])
