-- Which sites changed at which revision, so that servers reload only those (incremental
-- refresh). Every write records each site it changes with the revision it bumped to, and each
-- site it removes with `removed` set. No foreign key: a removed site's row stays.
CREATE TABLE IF NOT EXISTS maintenance_site_changes (
    site_id BIGINT  NOT NULL,
    version BIGINT  NOT NULL,
    removed BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (site_id),
    KEY maintenance_site_changes_version (version)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
