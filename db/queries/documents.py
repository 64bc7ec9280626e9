"""SQL for trusted documents (migration 0010)."""

BODY = "SELECT body FROM trusted_documents WHERE id = $1"
ADD = """
INSERT INTO trusted_documents (id, body, name) VALUES ($1, $2, $3)
ON CONFLICT (id) DO NOTHING
"""
LIST = "SELECT id, name, added_at FROM trusted_documents ORDER BY added_at, id"
REMOVE = "DELETE FROM trusted_documents WHERE id = $1"
