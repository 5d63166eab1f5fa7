//! The tables' migrations for diesel's migration harness: maintenance-sql's SQL (the files
//! maintenance-sqlx embeds too), under the version diesel records for each
//! (`0001` for `0001_maintenance_tables`).

use std::fmt;

use diesel::backend::Backend;
use diesel::connection::BoxableConnection;
use diesel::migration::{
    Migration, MigrationMetadata, MigrationName, MigrationSource, MigrationVersion, Result,
};
use maintenance_sql::migrations::Migration as Sql;

/// A backend's migrations, oldest first.
pub(crate) struct Migrations(pub(crate) &'static [Sql]);

impl<DB: Backend> MigrationSource<DB> for Migrations {
    fn migrations(&self) -> Result<Vec<Box<dyn Migration<DB>>>> {
        Ok(self
            .0
            .iter()
            .map(|sql| Box::new(Embedded(*sql)) as Box<dyn Migration<DB>>)
            .collect())
    }
}

/// One migration; it runs in a transaction (where the backend has transactional DDL) and has
/// no `down`.
struct Embedded(Sql);

impl fmt::Display for Embedded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

impl MigrationName for Embedded {
    fn version(&self) -> MigrationVersion<'_> {
        self.0.version().into()
    }
}

impl MigrationMetadata for Embedded {}

impl<DB: Backend> Migration<DB> for Embedded {
    fn run(&self, conn: &mut dyn BoxableConnection<DB>) -> Result<()> {
        conn.batch_execute(self.0.sql)
            .map_err(|e| format!("migration {} failed: {e}", self.0.name).into())
    }

    fn revert(&self, _: &mut dyn BoxableConnection<DB>) -> Result<()> {
        Err(format!("migration {} cannot be reverted", self.0.name).into())
    }

    fn metadata(&self) -> &dyn MigrationMetadata {
        self
    }

    fn name(&self) -> &dyn MigrationName {
        self
    }
}
