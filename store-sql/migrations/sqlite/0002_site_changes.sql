-- Which sites changed at which revision, so that servers reload only those (incremental
-- refresh). Every write records each site it changes with the revision it bumped to, and each
-- site it removes with `removed` set. No foreign key: a removed site's row stays.
CREATE TABLE IF NOT EXISTS maintenance_site_changes (
    site_id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL,
    removed BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX IF NOT EXISTS maintenance_site_changes_version ON maintenance_site_changes (version);
