-- auth_generation counts the changes that can alter who a signed-in caller
-- is or may be: a session ended, a token revoked, an account deactivated or
-- renamed, a role, membership, site-authoriser or service-desk appointment
-- granted or withdrawn. Each instance remembers the callers it identified
-- only while the count is unchanged, and reads the count on every request,
-- so a revocation takes effect at once on every instance. Triggers keep it,
-- so no code path (nor the command line) can forget to. Statement-level
-- triggers where they can be: a sweep that ends a thousand memberships
-- moves the count once, not a thousand times.
CREATE TABLE auth_generation (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    gen BIGINT NOT NULL
);
INSERT INTO auth_generation (id, gen) VALUES (1, 0);

CREATE FUNCTION auth_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE auth_generation SET gen = gen + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER auth_gen_session_end AFTER DELETE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION auth_generation_bump();
CREATE TRIGGER auth_gen_session_state AFTER UPDATE OF state ON sessions
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION auth_generation_bump();
CREATE TRIGGER auth_gen_token_revoke AFTER UPDATE OF revoked_at ON api_tokens
    FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at) EXECUTE FUNCTION auth_generation_bump();
CREATE TRIGGER auth_gen_user AFTER UPDATE ON users
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.email IS DISTINCT FROM NEW.email
        OR OLD.given_name IS DISTINCT FROM NEW.given_name OR OLD.family_name IS DISTINCT FROM NEW.family_name
        OR OLD.must_change_password IS DISTINCT FROM NEW.must_change_password OR OLD.totp_enabled IS DISTINCT FROM NEW.totp_enabled)
    EXECUTE FUNCTION auth_generation_bump();
CREATE TRIGGER auth_gen_roles AFTER INSERT OR DELETE ON user_roles
    FOR EACH STATEMENT EXECUTE FUNCTION auth_generation_bump();
CREATE TRIGGER auth_gen_authorisers AFTER INSERT OR DELETE ON site_authorisers
    FOR EACH STATEMENT EXECUTE FUNCTION auth_generation_bump();
CREATE TRIGGER auth_gen_desk AFTER INSERT OR DELETE ON service_desk_staff
    FOR EACH STATEMENT EXECUTE FUNCTION auth_generation_bump();
CREATE TRIGGER auth_gen_memberships AFTER INSERT OR DELETE OR UPDATE OF status ON memberships
    FOR EACH STATEMENT EXECUTE FUNCTION auth_generation_bump();
