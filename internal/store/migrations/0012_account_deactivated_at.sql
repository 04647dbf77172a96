-- When a record account was last deactivated (Unix microseconds; 0 if
-- never). The gate asks for a reactivation when someone with a deactivated
-- account joins a site after that moment; it judged this from updated_at,
-- which any later change to the deactivated account (an amendment, a new
-- finishing date) also moves. Accounts deactivated before this migration
-- take their last change as the best value there is.
ALTER TABLE record_accounts ADD COLUMN deactivated_at BIGINT NOT NULL DEFAULT 0;
UPDATE record_accounts SET deactivated_at = updated_at WHERE status = 'deactivated';
