//! What `migrate()` adds after the migrations on SQLite and PostgreSQL, which share these
//! statements (`ON CONFLICT`); MariaDB/MySQL has its own, in its module.

/// Restores the revision row and the default site if they are missing (deleted by hand).
pub(crate) const ENSURE_REVISION: &str =
    "INSERT INTO maintenance_revision (id, revision) VALUES (1, 1) ON CONFLICT (id) DO NOTHING";
pub(crate) const ENSURE_DEFAULT_SITE: &str = "INSERT INTO maintenance_sites (domain, name, is_default, enabled, mode) \
     SELECT $1, $2, TRUE, FALSE, 'full' \
     WHERE NOT EXISTS (SELECT 1 FROM maintenance_sites WHERE is_default = TRUE) \
     ON CONFLICT (domain) DO NOTHING";
pub(crate) const BUMP_REVISION_ONLY: &str =
    "UPDATE maintenance_revision SET revision = revision + 1 WHERE id = 1";
