-- Partial maintenance: a site whose row is here is in maintenance only for the paths matching
-- one of its scope patterns (a JSON array of strings, the meaning of ignored patterns); a site
-- with no row is in maintenance as a whole. One row per site, written with the site's state.
CREATE TABLE IF NOT EXISTS maintenance_site_scopes (
    site_id        BIGINT NOT NULL,
    scope_patterns TEXT   NOT NULL,
    PRIMARY KEY (site_id),
    CONSTRAINT maintenance_site_scopes_site_fk FOREIGN KEY (site_id)
        REFERENCES maintenance_sites (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
