//! The tables' migrations: one copy of the SQL per backend, in this crate's `migrations/`
//! folder, which both stores embed.
//!
//! - maintenance-sqlx embeds the folder with `sqlx::migrate!`, which records each migration's
//!   version (`1`) and the SHA-384 checksum of its text in `_sqlx_migrations`: the text of a
//!   released migration never changes (a database it migrated would refuse to migrate again).
//! - maintenance-diesel runs the lists below through diesel's migration harness, which records
//!   each migration's version (the name's leading part, `0001`) in
//!   `__diesel_schema_migrations`.
//!
//! Both stores' migrations are idempotent (`CREATE ... IF NOT EXISTS`), so each may run on a
//! database the other migrated.

/// One migration: the file `migrations/<backend>/<name>.sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The file's name without `.sql`: its version, `_`, a description.
    pub name: &'static str,
    /// The SQL, statements separated by `;`.
    pub sql: &'static str,
}

impl Migration {
    /// The version: the name up to its first `_` (what diesel records).
    pub fn version(&self) -> &'static str {
        self.name
            .split_once('_')
            .map_or(self.name, |(version, _)| version)
    }
}

macro_rules! migrations {
    ($backend:literal: $($name:literal),+ $(,)?) => {
        &[$(Migration {
            name: $name,
            sql: include_str!(concat!("../migrations/", $backend, "/", $name, ".sql")),
        }),+]
    };
}

/// SQLite's migrations, oldest first.
pub const SQLITE: &[Migration] = migrations!(
    "sqlite": "0001_maintenance_tables",
    "0002_site_changes",
    "0003_site_scopes",
);
/// PostgreSQL's migrations, oldest first.
pub const POSTGRES: &[Migration] = migrations!(
    "postgres": "0001_maintenance_tables",
    "0002_site_changes",
    "0003_site_scopes",
);
/// MariaDB's and MySQL's migrations, oldest first.
pub const MYSQL: &[Migration] = migrations!(
    "mysql": "0001_maintenance_tables",
    "0002_site_changes",
    "0003_site_scopes",
);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use sha2::{Digest, Sha384};

    use super::*;

    fn backends() -> [(&'static str, &'static [Migration]); 3] {
        [("sqlite", SQLITE), ("postgres", POSTGRES), ("mysql", MYSQL)]
    }

    /// sqlx refuses to migrate a database whose recorded checksum differs from the embedded
    /// text's: these are the checksums of the released migrations.
    #[test]
    fn released_migrations_keep_their_checksums() {
        let released = [
            (
                "sqlite",
                "871bc0d02e4a9596034108d13063484de15e90c1ece642bf8a6a708c73e58cb5479ce99b6a344cb1b621c97c2aa2f74d",
            ),
            (
                "postgres",
                "fed6c93d62e6334fce5aac43f7a2967aee635a6fcf70f3662fa36ec9855a25d963c1d087a8493034f4d01aa18ef450c1",
            ),
            (
                "mysql",
                "6438998df404d7db4231c7e787b5195863da46a7ce226a138ed5e4411c84bad98550c9e53916e252f938ee9c4b9aed3c",
            ),
        ];
        for ((backend, migrations), (name, checksum)) in backends().into_iter().zip(released) {
            assert_eq!(backend, name);
            let digest = Sha384::digest(migrations[0].sql.as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(
                hex, checksum,
                "{backend}/{}.sql changed",
                migrations[0].name
            );
        }
    }

    /// diesel looks a migration up by the version it recorded.
    #[test]
    fn versions_are_the_names_leading_part() {
        for (_, migrations) in backends() {
            assert_eq!(migrations[0].version(), "0001");
        }
        let bare = Migration {
            name: "0002",
            sql: "",
        };
        assert_eq!(bare.version(), "0002");
    }

    /// Every file of the folder (what sqlx embeds) is in the list (what diesel runs), in order.
    #[test]
    fn the_lists_name_every_file_of_the_folder() {
        for (backend, migrations) in backends() {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(backend);
            let mut files: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            files.sort();
            let listed: Vec<String> = migrations
                .iter()
                .map(|m| format!("{}.sql", m.name))
                .collect();
            assert_eq!(files, listed, "{}", dir.display());
        }
    }
}
