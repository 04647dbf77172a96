-- auth_generation counts the changes that can alter who a signed-in caller
-- is or may be: a session ended, a token revoked, an account deactivated or
-- renamed, a role, membership, site-authoriser or service-desk appointment
-- granted or withdrawn. Each instance remembers the callers it identified
-- only while the count is unchanged, and reads the count on every request,
-- so a revocation takes effect at once on every instance. Triggers keep it,
-- so no code path (nor the command line) can forget to.
CREATE TABLE auth_generation (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    gen BIGINT NOT NULL
);
INSERT INTO auth_generation (id, gen) VALUES (1, 0);

CREATE TRIGGER auth_gen_session_end AFTER DELETE ON sessions
BEGIN UPDATE auth_generation SET gen = gen + 1 WHERE id = 1; END;
CREATE TRIGGER auth_gen_session_state AFTER UPDATE OF state ON sessions WHEN OLD.state <> NEW.state
BEGIN UPDATE auth_generation SET gen = gen + 1 WHERE id = 1; END;
CREATE TRIGGER auth_gen_token_revoke AFTER UPDATE OF revoked_at ON api_tokens WHEN OLD.revoked_at <> NEW.revoked_at
BEGIN UPDATE auth_generation SET gen = gen + 1 WHERE id = 1; END;
CREATE TRIGGER auth_gen_user AFTER UPDATE ON users
WHEN OLD.status <> NEW.status OR OLD.email <> NEW.email OR OLD.given_name <> NEW.given_name OR OLD.family_name <> NEW.family_name
  OR OLD.must_change_password <> NEW.must_change_password OR OLD.totp_enabled <> NEW.totp_enabled
BEGIN UPDATE auth_generation SET gen = gen + 1 WHERE id = 1; END;
CREATE TRIGGER auth_gen_role_add AFTER INSERT ON user_roles
BEGIN UPDATE auth_generation SET gen = gen + 1 WHERE id = 1; END;
CREATE TRIGGER auth_gen_role_remove AFTER DELETE ON user_roles
BEGIN UPDATE auth_generation SET gen = gen + 1 WHERE id = 1; END;
CREATE TRIGGER auth_gen_authoriser_add AFTER INSERT ON site_authorisers
BEGIN UPDATE auth_generation SET gen = gen + 1 WHERE id = 1; END;
CREATE TRIGGER auth_gen_authoriser_remove AFTER DELETE ON site_authorisers
BEGIN UPDATE auth_generation SET gen = gen + 1 WHERE id = 1; END;
CREATE TRIGGER auth_gen_desk_add AFTER INSERT ON service_desk_staff
BEGIN UPDATE auth_generation SET gen = gen + 1 WHERE id = 1; END;
CREATE TRIGGER auth_gen_desk_remove AFTER DELETE ON service_desk_staff
BEGIN UPDATE auth_generation SET gen = gen + 1 WHERE id = 1; END;
CREATE TRIGGER auth_gen_membership_add AFTER INSERT ON memberships
BEGIN UPDATE auth_generation SET gen = gen + 1 WHERE id = 1; END;
CREATE TRIGGER auth_gen_membership_remove AFTER DELETE ON memberships
BEGIN UPDATE auth_generation SET gen = gen + 1 WHERE id = 1; END;
CREATE TRIGGER auth_gen_membership_status AFTER UPDATE OF status ON memberships WHEN OLD.status <> NEW.status
BEGIN UPDATE auth_generation SET gen = gen + 1 WHERE id = 1; END;
