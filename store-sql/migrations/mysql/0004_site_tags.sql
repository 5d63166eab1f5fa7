-- Site tags: labels that group sites (`maintenance on --tag eu`), each at most once per site.
-- Stored as the core checks them (lower case, `a-z`, `0-9`, `_`, `.`, `-`, never a trailing
-- space, so the unique key holds under any collation); found by tag.
CREATE TABLE IF NOT EXISTS maintenance_site_tags (
    site_id BIGINT      NOT NULL,
    tag     VARCHAR(64) NOT NULL,
    PRIMARY KEY (site_id, tag),
    KEY maintenance_site_tags_tag (tag),
    CONSTRAINT maintenance_site_tags_site_fk FOREIGN KEY (site_id)
        REFERENCES maintenance_sites (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
