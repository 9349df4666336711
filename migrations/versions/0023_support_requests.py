"""Support requests: a case of its own kind ("I'd like to talk with someone"), and when one
became an incident report. Every case before this revision is a report.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as table:
        table.add_column(sa.Column("kind", sa.String(12), nullable=False, server_default="report"))
        table.add_column(sa.Column("became_report_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # A support request left as it is would read as an incident report without one: it goes
    # back to what the older schema can say, a report of "something else".
    op.execute("UPDATE cases SET category = 'other' WHERE kind = 'support'")
    with op.batch_alter_table("cases") as table:
        table.drop_column("became_report_at")
        table.drop_column("kind")
