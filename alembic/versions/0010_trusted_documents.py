"""Trusted documents: GraphQL operations registered by the operator (`mar documents add`), run
by their id (`documentId`, or an Automatic Persisted Query's hash); with
MAR_TRUSTED_DOCUMENTS_ONLY, the only ones that run. Each id is the SHA-256 of its text, which the
database checks.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE trusted_documents (
            id text PRIMARY KEY
                CONSTRAINT trusted_documents_id_is_its_sha256
                CHECK (id = 'sha256:' || encode(sha256(convert_to(body, 'UTF8')), 'hex')),
            body text NOT NULL
                CONSTRAINT trusted_documents_body_length CHECK (length(body) BETWEEN 1 AND 100000),
            name text CONSTRAINT trusted_documents_name_length CHECK (length(name) <= 200),
            added_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE trusted_documents")
