"""Staff accounts, the audit log, and case handling (assignment, notes, status order).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def _staff_fk(name: str, ondelete: str = "CASCADE") -> sa.Column:
    return sa.Column(name, sa.String(36), sa.ForeignKey("staff_users.id", ondelete=ondelete), nullable=False)


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("pseudonym", sa.String(64), nullable=True, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("totp_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTC_DATETIME, nullable=True),
        sa.Column("on_duty", sa.Boolean(), nullable=False),
        sa.Column("caseload_cap", sa.Integer(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("enrolled_at", UTC_DATETIME, nullable=True),
        sa.Column("last_login_at", UTC_DATETIME, nullable=True),
        sa.Column("last_assigned_at", UTC_DATETIME, nullable=True),
    )
    op.create_table(
        "staff_invites",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _staff_fk("staff_id"),
        sa.Column("token_index", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("used_at", UTC_DATETIME, nullable=True),
        sa.Column("pending_totp_sealed", sa.LargeBinary(), nullable=True),
    )
    op.create_index("ix_staff_invites_staff_id", "staff_invites", ["staff_id"])
    op.create_table(
        "staff_recovery_codes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _staff_fk("staff_id"),
        sa.Column("code_index", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("used_at", UTC_DATETIME, nullable=True),
    )
    op.create_index("ix_staff_recovery_codes_staff_id", "staff_recovery_codes", ["staff_id"])
    op.create_table(
        "staff_trainings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _staff_fk("staff_id"),
        sa.Column("course", sa.String(200), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
    )
    op.create_index("ix_staff_trainings_staff_id", "staff_trainings", ["staff_id"])

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("actor_id", sa.String(36), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_log_case_id", "audit_log", ["case_id"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "last_id": 0, "last_hash": "0" * 64}])

    op.create_table(
        "case_notes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("author_id", sa.String(36), sa.ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("body_sealed", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_case_notes_case_id", "case_notes", ["case_id"])

    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("queue_rank", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("assigned_to_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("assigned_at", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("acknowledged_at", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("important", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("closed_reason", sa.String(32), nullable=True))
        batch.create_foreign_key(
            "fk_cases_assigned_to_id", "staff_users", ["assigned_to_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_cases_queue", ["queue_rank", "level", "ack_due_at"])
        batch.create_index("ix_cases_assignee_queue", ["assigned_to_id", "queue_rank", "level", "ack_due_at"])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("author_id", sa.String(36), nullable=True))
        batch.create_foreign_key("fk_messages_author_id", "staff_users", ["author_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("fk_messages_author_id", type_="foreignkey")
        batch.drop_column("author_id")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_assignee_queue")
        batch.drop_index("ix_cases_queue")
        batch.drop_constraint("fk_cases_assigned_to_id", type_="foreignkey")
        for column in ("closed_reason", "important", "acknowledged_at", "assigned_at", "assigned_to_id", "queue_rank"):
            batch.drop_column(column)
    for table in (
        "case_notes",
        "audit_head",
        "audit_log",
        "staff_trainings",
        "staff_recovery_codes",
        "staff_invites",
        "staff_users",
    ):
        op.drop_table(table)
