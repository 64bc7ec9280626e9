"""Key names: unique among the keys in use, so a revoked key's name can be given again.

`mar keys rotate NAME` revokes a key and makes a new one of the same name and role in one
transaction, and `mar keys create` may reuse the name of a revoked key; the revoked keys keep
their rows (and the audit log its entries) under the same name.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE api_keys DROP CONSTRAINT api_keys_name_unique")
    # The same name as before, now a partial unique index: db/constraints.py names the field.
    op.execute(
        "CREATE UNIQUE INDEX api_keys_name_unique ON api_keys (name) WHERE revoked_at IS NULL"
    )


def downgrade() -> None:
    # Names unique again: a revoked key that shares its name with another key gets its id added.
    op.execute(
        """
        UPDATE api_keys AS k SET name = left(k.name, 80) || ' (revoked ' || k.id || ')'
        WHERE k.revoked_at IS NOT NULL
          AND EXISTS (SELECT FROM api_keys AS o WHERE o.name = k.name AND o.id <> k.id)
        """
    )
    op.execute("DROP INDEX api_keys_name_unique")
    op.execute("ALTER TABLE api_keys ADD CONSTRAINT api_keys_name_unique UNIQUE (name)")
