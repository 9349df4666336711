"""The reporter's choices about ways to contact her, kept as keyed indexes.

A table where "you may call me" is true says she gave a phone number. The choice is now an
HMAC of case, purpose and answer under a key from the keyring; `granted` stays False. The
indexes need the keyring, so this runs inside the app (as every migration does here).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

CONTACT_PURPOSES = ("contact_phone", "contact_email", "contact_text")


def upgrade() -> None:
    from app.crypto import blind_index
    from app.keystore import current_keyring

    with op.batch_alter_table("consent_records") as table:
        table.add_column(sa.Column("sealed_choice", sa.LargeBinary(32), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT id, case_id, purpose, granted FROM consent_records WHERE purpose IN :purposes").bindparams(
            sa.bindparam("purposes", expanding=True)
        ),
        {"purposes": list(CONTACT_PURPOSES)},
    ).all()
    if rows:
        ring = current_keyring()
        for record_id, case_id, purpose, granted in rows:
            sealed = blind_index(ring, "consent-choice", f"{case_id}|{purpose}|{bool(granted)}")
            connection.execute(
                sa.text("UPDATE consent_records SET granted = :no, sealed_choice = :sealed WHERE id = :id"),
                {"no": False, "sealed": sealed, "id": record_id},
            )


def downgrade() -> None:
    from app.crypto import blind_index
    from app.keystore import current_keyring

    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT id, case_id, purpose, sealed_choice FROM consent_records WHERE sealed_choice IS NOT NULL")
    ).all()
    if rows:
        ring = current_keyring()
        for record_id, case_id, purpose, sealed in rows:
            granted = bytes(sealed) == blind_index(ring, "consent-choice", f"{case_id}|{purpose}|True")
            connection.execute(
                sa.text("UPDATE consent_records SET granted = :granted WHERE id = :id"),
                {"granted": granted, "id": record_id},
            )
    with op.batch_alter_table("consent_records") as table:
        table.drop_column("sealed_choice")
