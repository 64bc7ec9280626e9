"""SQL for idempotency keys: a claim per (key holder, key), the stored answer, expiry."""

from __future__ import annotations

# How long a claim waits for an identical request that holds it (transaction-local).
WAIT_AT_MOST = "SELECT set_config('lock_timeout', $1, true)"

# Claim (holder, key) for this request; an expired entry is taken over. Returns a row only when
# the claim is ours. A concurrent claim of the same pair waits here until the first commits.
CLAIM = """
INSERT INTO idempotency_keys (key_holder, key, request_hash, expires_at)
VALUES ($1, $2, $3, now() + make_interval(secs => $4))
ON CONFLICT (key_holder, key) DO UPDATE
  SET request_hash = EXCLUDED.request_hash, status_code = NULL, response = NULL,
      created_at = now(), expires_at = EXCLUDED.expires_at
  WHERE idempotency_keys.expires_at <= now()
RETURNING key
"""

EXISTING = """
SELECT request_hash, status_code, response FROM idempotency_keys
WHERE key_holder = $1 AND key = $2 AND expires_at > now()
"""

STORE = """
UPDATE idempotency_keys SET status_code = $3, response = $4
WHERE key_holder = $1 AND key = $2
"""

# Opportunistic cleaning: a bounded batch of expired entries.
DELETE_EXPIRED = """
DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
  SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT $1
))
"""
