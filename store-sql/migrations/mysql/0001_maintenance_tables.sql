-- The maintenance tables on MariaDB and MySQL. Timestamps are DATETIME(6) holding UTC (the store
-- sets the session time zone to +00:00). Text columns use a binary collation, so patterns and
-- domains compare exactly, as on the other backends.

CREATE TABLE IF NOT EXISTS maintenance_sites (
    id                 BIGINT       NOT NULL AUTO_INCREMENT,
    domain             VARCHAR(253) NOT NULL,
    name               VARCHAR(255) NOT NULL,
    is_default         BOOLEAN      NOT NULL DEFAULT FALSE,
    enabled            BOOLEAN      NOT NULL DEFAULT FALSE,
    mode               VARCHAR(32)  NOT NULL DEFAULT 'full',
    message            TEXT         NULL,
    starts_at          DATETIME(6)  NULL,
    ends_at            DATETIME(6)  NULL,
    retry_after_secs   BIGINT       NULL,
    bypass_secret_hash VARCHAR(255) NULL,
    updated_at         DATETIME(6)  NULL,
    updated_by         TEXT         NULL,
    PRIMARY KEY (id),
    UNIQUE KEY maintenance_sites_domain (domain)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- No unique key on (site_id, pattern): MySQL's PAD SPACE collations would treat `^a` and `^a `
-- as one pattern. The store serialises its writes instead (on the revision row).
CREATE TABLE IF NOT EXISTS maintenance_ignored_paths (
    id          BIGINT       NOT NULL AUTO_INCREMENT,
    site_id     BIGINT       NOT NULL,
    pattern     VARCHAR(255) NOT NULL,
    description VARCHAR(255) NOT NULL DEFAULT '',
    PRIMARY KEY (id),
    KEY maintenance_ignored_paths_site (site_id),
    CONSTRAINT maintenance_ignored_paths_site_fk FOREIGN KEY (site_id)
        REFERENCES maintenance_sites (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS maintenance_allowed_networks (
    id          BIGINT       NOT NULL AUTO_INCREMENT,
    site_id     BIGINT       NOT NULL,
    cidr        VARCHAR(64)  NOT NULL,
    description VARCHAR(255) NOT NULL DEFAULT '',
    PRIMARY KEY (id),
    UNIQUE KEY maintenance_allowed_networks_site_cidr (site_id, cidr),
    CONSTRAINT maintenance_allowed_networks_site_fk FOREIGN KEY (site_id)
        REFERENCES maintenance_sites (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The audit log keeps the site's domain, so events outlive the site they name.
CREATE TABLE IF NOT EXISTS maintenance_events (
    id          BIGINT       NOT NULL AUTO_INCREMENT,
    site_id     BIGINT       NULL,
    site_domain VARCHAR(253) NULL,
    at          DATETIME(6)  NOT NULL,
    actor       TEXT         NOT NULL,
    action      VARCHAR(32)  NOT NULL,
    detail      TEXT         NOT NULL,
    PRIMARY KEY (id),
    KEY maintenance_events_site_domain (site_domain, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One row: the revision every write bumps.
CREATE TABLE IF NOT EXISTS maintenance_revision (
    id       SMALLINT NOT NULL,
    revision BIGINT   NOT NULL,
    PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

INSERT INTO maintenance_revision (id, revision) VALUES (1, 1)
ON DUPLICATE KEY UPDATE id = id;
INSERT INTO maintenance_sites (domain, name, is_default, enabled, mode)
VALUES ('default', 'Default site', TRUE, FALSE, 'full')
ON DUPLICATE KEY UPDATE id = id;
