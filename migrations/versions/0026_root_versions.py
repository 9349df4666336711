"""Every value made with a key derived from the root secret names the root version it used,
so the root can be rotated and its old versions retired (app/keys_uses.py). Rows made before
versions existed were made under the only root there was: root-1.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

# (table, column): the root version of each row's keyed or sealed value.
COLUMNS = [
    ("cases", "receipt_root"),
    ("circle_requests", "code_root"),
    ("staff_recovery_codes", "code_root"),
    ("circles", "seal_root"),
    ("circle_requests", "seal_root"),
    ("case_exclusions", "index_root"),
    ("audit_log", "key_root"),
]
# The questions whose answers the tallies keep as keyed indexes (app/cases/tallies.py).
SEALED_QUESTIONS = ("perpetrator", "setting", "when")
# The same, for values a row may not have (None when it has none).
OPTIONAL = [
    ("staff_users", "totp_sealed", "totp_root"),
    ("staff_users", "paging_sealed", "paging_root"),
    ("consent_records", "sealed_choice", "seal_root"),
    ("audit_head", "mac", "key_root"),
]


def upgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(column, sa.String(16), nullable=False, server_default="root-1"))
        with op.batch_alter_table(table) as batch:  # from now on, every writer names its version
            batch.alter_column(column, server_default=None)
    for table, sealed, column in OPTIONAL:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(column, sa.String(16)))
        rows = sa.table(table, sa.column(sealed), sa.column(column))
        op.execute(rows.update().where(rows.c[sealed].is_not(None)).values({column: "root-1"}))
    with op.batch_alter_table("report_tallies") as batch:
        batch.add_column(sa.Column("answer_root", sa.String(16)))
    tallies = sa.table("report_tallies", sa.column("question"), sa.column("answer_root"))
    op.execute(tallies.update().where(tallies.c.question.in_(SEALED_QUESTIONS)).values(answer_root="root-1"))


def downgrade() -> None:
    with op.batch_alter_table("report_tallies") as batch:
        batch.drop_column("answer_root")
    for table, _, column in reversed(OPTIONAL):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
    for table, column in reversed(COLUMNS):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
