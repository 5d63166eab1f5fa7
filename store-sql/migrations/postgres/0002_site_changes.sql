-- Which sites changed at which revision, so that servers reload only those (incremental
-- refresh). No foreign key: a removed site's row stays, with `removed` set.
--
-- On PostgreSQL triggers keep this table for every writer, plain SQL included: the first
-- change of a transaction bumps the revision once (maintenance_tx_revision), and each
-- statement records the sites it touched at that revision, then notifies the listening servers
-- with a payload naming the revision and the sites (`<revision> <id>,<id>...`, or
-- `<revision> *` for a statement over many sites).

CREATE TABLE IF NOT EXISTS maintenance_site_changes (
    site_id BIGINT  PRIMARY KEY,
    version BIGINT  NOT NULL,
    removed BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX IF NOT EXISTS maintenance_site_changes_version ON maintenance_site_changes (version);

-- The revision of the current transaction's changes: bumped on the first call of a
-- transaction, then the same value until it ends (kept in transaction-local settings).
CREATE OR REPLACE FUNCTION maintenance_tx_revision() RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    tx  TEXT := txid_current()::text;
    rev BIGINT;
BEGIN
    IF current_setting('maintenance.tx', true) IS NOT DISTINCT FROM tx THEN
        RETURN current_setting('maintenance.tx_revision')::bigint;
    END IF;
    UPDATE maintenance_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision INTO rev;
    IF rev IS NULL THEN
        -- No revision row (deleted by hand): the store restores it on its next migrate.
        RETURN 0;
    END IF;
    PERFORM set_config('maintenance.tx', tx, true);
    PERFORM set_config('maintenance.tx_revision', rev::text, true);
    RETURN rev;
END;
$$;

-- A revision bumped in a transaction (by a store, which bumps first to take the writers' lock,
-- or by hand) is the transaction's revision: the changes after it are recorded at it, without
-- bumping again.
CREATE OR REPLACE FUNCTION maintenance_revision_bumped() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('maintenance.tx', txid_current()::text, true);
    PERFORM set_config('maintenance.tx_revision', NEW.revision::text, true);
    RETURN NEW;
END;
$$;
DROP TRIGGER IF EXISTS maintenance_revision_bumped ON maintenance_revision;
CREATE TRIGGER maintenance_revision_bumped BEFORE UPDATE ON maintenance_revision
    FOR EACH ROW EXECUTE FUNCTION maintenance_revision_bumped();

-- Records `ids` as changed (or removed) at the transaction's revision, and notifies.
CREATE OR REPLACE FUNCTION maintenance_record_changes(ids BIGINT[], is_removed BOOLEAN) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    rev BIGINT;
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    rev := maintenance_tx_revision();
    INSERT INTO maintenance_site_changes (site_id, version, removed)
    SELECT DISTINCT id, rev, is_removed FROM unnest(ids) AS id
    ON CONFLICT (site_id) DO UPDATE SET version = EXCLUDED.version, removed = EXCLUDED.removed;
    IF cardinality(ids) <= 100 THEN
        PERFORM pg_notify('maintenance_changes', rev::text || ' ' || array_to_string(ids, ','));
    ELSE
        PERFORM pg_notify('maintenance_changes', rev::text || ' *');
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION maintenance_sites_written() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM maintenance_record_changes(ARRAY(SELECT id FROM new_rows), FALSE);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION maintenance_sites_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM maintenance_record_changes(ARRAY(SELECT id FROM old_rows), TRUE);
    RETURN NULL;
END;
$$;

-- A pattern or network row changed: its site changed (if it still exists; a removed site is
-- recorded by the trigger above).
CREATE OR REPLACE FUNCTION maintenance_site_rows_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM maintenance_record_changes(ARRAY(
        SELECT DISTINCT r.site_id FROM new_rows r JOIN maintenance_sites s ON s.id = r.site_id), FALSE);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION maintenance_site_rows_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM maintenance_record_changes(ARRAY(
        SELECT DISTINCT r.site_id FROM old_rows r JOIN maintenance_sites s ON s.id = r.site_id), FALSE);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION maintenance_site_rows_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM maintenance_record_changes(ARRAY(
        SELECT DISTINCT r.site_id FROM (SELECT site_id FROM new_rows UNION SELECT site_id FROM old_rows) r
        JOIN maintenance_sites s ON s.id = r.site_id), FALSE);
    RETURN NULL;
END;
$$;

-- TRUNCATE names no rows: bump the revision, so that servers see it moved with no site named
-- and read everything.
CREATE OR REPLACE FUNCTION maintenance_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('maintenance_changes', maintenance_tx_revision()::text || ' *');
    RETURN NULL;
END;
$$;

-- The per-statement notices of 0001 on the site tables give way to the ones above, which name
-- the sites; the revision table keeps its own (a revision bumped by hand).
DROP TRIGGER IF EXISTS maintenance_sites_notify ON maintenance_sites;
DROP TRIGGER IF EXISTS maintenance_ignored_paths_notify ON maintenance_ignored_paths;
DROP TRIGGER IF EXISTS maintenance_allowed_networks_notify ON maintenance_allowed_networks;

DROP TRIGGER IF EXISTS maintenance_sites_inserted ON maintenance_sites;
CREATE TRIGGER maintenance_sites_inserted AFTER INSERT ON maintenance_sites
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maintenance_sites_written();
DROP TRIGGER IF EXISTS maintenance_sites_updated ON maintenance_sites;
CREATE TRIGGER maintenance_sites_updated AFTER UPDATE ON maintenance_sites
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maintenance_sites_written();
DROP TRIGGER IF EXISTS maintenance_sites_deleted ON maintenance_sites;
CREATE TRIGGER maintenance_sites_deleted AFTER DELETE ON maintenance_sites
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maintenance_sites_removed();
DROP TRIGGER IF EXISTS maintenance_sites_truncated ON maintenance_sites;
CREATE TRIGGER maintenance_sites_truncated AFTER TRUNCATE ON maintenance_sites
    FOR EACH STATEMENT EXECUTE FUNCTION maintenance_truncated();

DROP TRIGGER IF EXISTS maintenance_ignored_paths_inserted ON maintenance_ignored_paths;
CREATE TRIGGER maintenance_ignored_paths_inserted AFTER INSERT ON maintenance_ignored_paths
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maintenance_site_rows_inserted();
DROP TRIGGER IF EXISTS maintenance_ignored_paths_updated ON maintenance_ignored_paths;
CREATE TRIGGER maintenance_ignored_paths_updated AFTER UPDATE ON maintenance_ignored_paths
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maintenance_site_rows_updated();
DROP TRIGGER IF EXISTS maintenance_ignored_paths_deleted ON maintenance_ignored_paths;
CREATE TRIGGER maintenance_ignored_paths_deleted AFTER DELETE ON maintenance_ignored_paths
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maintenance_site_rows_deleted();
DROP TRIGGER IF EXISTS maintenance_ignored_paths_truncated ON maintenance_ignored_paths;
CREATE TRIGGER maintenance_ignored_paths_truncated AFTER TRUNCATE ON maintenance_ignored_paths
    FOR EACH STATEMENT EXECUTE FUNCTION maintenance_truncated();

DROP TRIGGER IF EXISTS maintenance_allowed_networks_inserted ON maintenance_allowed_networks;
CREATE TRIGGER maintenance_allowed_networks_inserted AFTER INSERT ON maintenance_allowed_networks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maintenance_site_rows_inserted();
DROP TRIGGER IF EXISTS maintenance_allowed_networks_updated ON maintenance_allowed_networks;
CREATE TRIGGER maintenance_allowed_networks_updated AFTER UPDATE ON maintenance_allowed_networks
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maintenance_site_rows_updated();
DROP TRIGGER IF EXISTS maintenance_allowed_networks_deleted ON maintenance_allowed_networks;
CREATE TRIGGER maintenance_allowed_networks_deleted AFTER DELETE ON maintenance_allowed_networks
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maintenance_site_rows_deleted();
DROP TRIGGER IF EXISTS maintenance_allowed_networks_truncated ON maintenance_allowed_networks;
CREATE TRIGGER maintenance_allowed_networks_truncated AFTER TRUNCATE ON maintenance_allowed_networks
    FOR EACH STATEMENT EXECUTE FUNCTION maintenance_truncated();
