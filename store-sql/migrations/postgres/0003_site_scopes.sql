-- Partial maintenance: a site whose row is here is in maintenance only for the paths matching
-- one of its scope patterns (a JSON array of strings, the meaning of ignored patterns); a site
-- with no row is in maintenance as a whole. One row per site, written with the site's state.
CREATE TABLE IF NOT EXISTS maintenance_site_scopes (
    site_id        BIGINT PRIMARY KEY REFERENCES maintenance_sites (id) ON DELETE CASCADE,
    scope_patterns TEXT   NOT NULL
);

-- A scope written by any writer (plain SQL included) records its site as changed and notifies
-- the servers, like the ignored paths and networks (0002).
DROP TRIGGER IF EXISTS maintenance_site_scopes_inserted ON maintenance_site_scopes;
CREATE TRIGGER maintenance_site_scopes_inserted AFTER INSERT ON maintenance_site_scopes
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maintenance_site_rows_inserted();
DROP TRIGGER IF EXISTS maintenance_site_scopes_updated ON maintenance_site_scopes;
CREATE TRIGGER maintenance_site_scopes_updated AFTER UPDATE ON maintenance_site_scopes
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maintenance_site_rows_updated();
DROP TRIGGER IF EXISTS maintenance_site_scopes_deleted ON maintenance_site_scopes;
CREATE TRIGGER maintenance_site_scopes_deleted AFTER DELETE ON maintenance_site_scopes
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maintenance_site_rows_deleted();
DROP TRIGGER IF EXISTS maintenance_site_scopes_truncated ON maintenance_site_scopes;
CREATE TRIGGER maintenance_site_scopes_truncated AFTER TRUNCATE ON maintenance_site_scopes
    FOR EACH STATEMENT EXECUTE FUNCTION maintenance_truncated();
