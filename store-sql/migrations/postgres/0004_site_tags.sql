-- Site tags: labels that group sites (`maintenance on --tag eu`), each at most once per site.
-- Stored as the core checks them (lower case, `a-z`, `0-9`, `_`, `.`, `-`); found by tag.
CREATE TABLE IF NOT EXISTS maintenance_site_tags (
    site_id BIGINT NOT NULL REFERENCES maintenance_sites (id) ON DELETE CASCADE,
    tag     TEXT   NOT NULL,
    PRIMARY KEY (site_id, tag)
);
CREATE INDEX IF NOT EXISTS maintenance_site_tags_tag ON maintenance_site_tags (tag);

-- A tag written by any writer (plain SQL included) records its site as changed and notifies
-- the servers, like the ignored paths and networks (0002).
DROP TRIGGER IF EXISTS maintenance_site_tags_inserted ON maintenance_site_tags;
CREATE TRIGGER maintenance_site_tags_inserted AFTER INSERT ON maintenance_site_tags
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maintenance_site_rows_inserted();
DROP TRIGGER IF EXISTS maintenance_site_tags_updated ON maintenance_site_tags;
CREATE TRIGGER maintenance_site_tags_updated AFTER UPDATE ON maintenance_site_tags
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maintenance_site_rows_updated();
DROP TRIGGER IF EXISTS maintenance_site_tags_deleted ON maintenance_site_tags;
CREATE TRIGGER maintenance_site_tags_deleted AFTER DELETE ON maintenance_site_tags
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maintenance_site_rows_deleted();
DROP TRIGGER IF EXISTS maintenance_site_tags_truncated ON maintenance_site_tags;
CREATE TRIGGER maintenance_site_tags_truncated AFTER TRUNCATE ON maintenance_site_tags
    FOR EACH STATEMENT EXECUTE FUNCTION maintenance_truncated();
