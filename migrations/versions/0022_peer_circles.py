"""Peer circles: the meetings coordinators publish (where they meet, sealed), and the requests
for their place or link (a chosen name and an optional email, sealed; a keyed index of the code).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "circles",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("where_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("facilitator_id", sa.String(36), sa.ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("ground_rules", sa.Text(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_circles_starts_at", "circles", ["starts_at"])
    op.create_index("ix_circles_facilitator_id", "circles", ["facilitator_id"])
    op.create_table(
        "circle_requests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("circle_id", sa.String(36), sa.ForeignKey("circles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("code_index", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("email_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("seated", sa.Boolean(), nullable=False),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("notice", sa.String(16), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("circle_id", "position", name="uq_circle_requests_position"),
    )
    op.create_index("ix_circle_requests_circle", "circle_requests", ["circle_id", "seated", "withdrawn"])


def downgrade() -> None:
    op.drop_table("circle_requests")
    op.drop_table("circles")
