-- Per-task cost, as far as the server can see it: what claim_task handed out (characters and an
-- estimate of tokens, summed over every attempt), what the accepted submit_findings sent back, and
-- when the task was first claimed (wall time = completed_at - first_claimed_at; the last attempt's
-- own time is completed_at - claimed_at). `attempts` (0002) counts the claims.
ALTER TABLE tasks ADD COLUMN served_chars INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN served_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN received_chars INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN received_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN first_claimed_at REAL;
