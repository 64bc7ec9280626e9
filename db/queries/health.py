"""SQL for readiness."""

# The Alembic revision the database is at (fails with UndefinedTableError when never migrated).
SCHEMA_REVISION = "SELECT version_num FROM alembic_version LIMIT 1"

# A round trip that shows the server still answers.
PING = "SELECT 1"
