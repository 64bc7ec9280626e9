"""SQL for API keys: only a key's hash is ever stored or compared. Values are always parameters."""

from __future__ import annotations

COLUMNS = "k.id, k.name, k.role, k.key_prefix, k.created_at, k.revoked_at, k.last_used_at, "
COLUMNS += "k.personal_data_reads"

INSERT = f"""
WITH k AS (
  INSERT INTO api_keys (name, role, key_hash, key_prefix) VALUES ($1, $2, $3, $4) RETURNING *
)
SELECT {COLUMNS} FROM k
"""

LIST = f"SELECT {COLUMNS} FROM api_keys AS k ORDER BY k.name, k.id"

REVOKE = f"""
WITH k AS (
  UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL RETURNING *
)
SELECT {COLUMNS} FROM k
"""

# A name is unique among keys in use; revoked keys may share it. The newest first.
BY_NAME = f"SELECT {COLUMNS} FROM api_keys AS k WHERE k.name = $1 ORDER BY k.id DESC LIMIT 1"

# `mar keys rotate`: revoke the key in use named $1 and return its role (no row: none in use).
REVOKE_FOR_ROTATION = (
    "UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL RETURNING role"
)

# The one statement a keyed request costs: find the key by its hash and, when it was last
# marked used more than $2 seconds ago, mark it used now (at most one write a minute per key).
AUTHENTICATE = """
WITH k AS (
  SELECT id, name, role, key_hash, revoked_at, last_used_at FROM api_keys WHERE key_hash = $1
), touched AS (
  UPDATE api_keys SET last_used_at = now()
  FROM k
  WHERE api_keys.id = k.id AND k.revoked_at IS NULL
    AND (k.last_used_at IS NULL OR k.last_used_at < now() - make_interval(secs => $2))
  RETURNING api_keys.id
)
SELECT k.id, k.name, k.role, k.key_hash, k.revoked_at FROM k
"""

# Casualties whose personal data a request read, added to the key's counter in one statement.
COUNT_PERSONAL_DATA_READS = (
    "UPDATE api_keys SET personal_data_reads = personal_data_reads + $2 WHERE id = $1"
)

# What open WebSockets' keys are now, by the hashes they were opened with: a key that is gone,
# or whose hash changed, is not found (api/sockets.py re-checks keys with this when it may have
# missed a key's change).
STATES = "SELECT key_hash, role, revoked_at FROM api_keys WHERE key_hash = ANY($1::text[])"
