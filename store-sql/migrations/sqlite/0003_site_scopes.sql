-- Partial maintenance: a site whose row is here is in maintenance only for the paths matching
-- one of its scope patterns (a JSON array of strings, the meaning of ignored patterns); a site
-- with no row is in maintenance as a whole. One row per site, written with the site's state.
CREATE TABLE IF NOT EXISTS maintenance_site_scopes (
    site_id        INTEGER PRIMARY KEY REFERENCES maintenance_sites (id) ON DELETE CASCADE,
    scope_patterns TEXT    NOT NULL
);
