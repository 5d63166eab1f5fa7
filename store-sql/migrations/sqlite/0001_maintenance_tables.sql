-- The maintenance tables on SQLite. Timestamps are UTC text in the RFC 3339 form sqlx's chrono
-- support writes (e.g. 2030-03-17T17:46:40.123456+00:00).

CREATE TABLE IF NOT EXISTS maintenance_sites (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    domain             TEXT    NOT NULL UNIQUE,
    name               TEXT    NOT NULL,
    is_default         BOOLEAN NOT NULL DEFAULT FALSE,
    enabled            BOOLEAN NOT NULL DEFAULT FALSE,
    mode               TEXT    NOT NULL DEFAULT 'full',
    message            TEXT,
    starts_at          TEXT,
    ends_at            TEXT,
    retry_after_secs   INTEGER,
    bypass_secret_hash TEXT,
    updated_at         TEXT,
    updated_by         TEXT
);

CREATE TABLE IF NOT EXISTS maintenance_ignored_paths (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id     INTEGER NOT NULL REFERENCES maintenance_sites (id) ON DELETE CASCADE,
    pattern     TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    UNIQUE (site_id, pattern)
);

CREATE TABLE IF NOT EXISTS maintenance_allowed_networks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id     INTEGER NOT NULL REFERENCES maintenance_sites (id) ON DELETE CASCADE,
    cidr        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    UNIQUE (site_id, cidr)
);

-- The audit log keeps the site's domain, so events outlive the site they name.
CREATE TABLE IF NOT EXISTS maintenance_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id     INTEGER,
    site_domain TEXT,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS maintenance_events_site_domain ON maintenance_events (site_domain, id);

-- One row: the revision every write bumps.
CREATE TABLE IF NOT EXISTS maintenance_revision (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT  NOT NULL
);

INSERT INTO maintenance_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO NOTHING;
INSERT INTO maintenance_sites (domain, name, is_default, enabled, mode)
VALUES ('default', 'Default site', TRUE, FALSE, 'full')
ON CONFLICT (domain) DO NOTHING;
