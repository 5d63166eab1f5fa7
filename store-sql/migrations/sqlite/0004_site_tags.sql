-- Site tags: labels that group sites (`maintenance on --tag eu`), each at most once per site.
-- Stored as the core checks them (lower case, `a-z`, `0-9`, `_`, `.`, `-`); found by tag.
CREATE TABLE IF NOT EXISTS maintenance_site_tags (
    site_id INTEGER NOT NULL REFERENCES maintenance_sites (id) ON DELETE CASCADE,
    tag     TEXT    NOT NULL,
    PRIMARY KEY (site_id, tag)
);
CREATE INDEX IF NOT EXISTS maintenance_site_tags_tag ON maintenance_site_tags (tag);
