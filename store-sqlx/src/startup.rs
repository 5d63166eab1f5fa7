//! [`Startup`]: a server's `Maintenance` handle on a database that may be down.

use maintenance_sql::startup::{Migrate, OpenLazy};

use crate::any::SqlxStore;
use crate::error::Error;

/// Starts a server's [`Maintenance`](maintenance_core::Maintenance) handle on a database that
/// may be down, with maintenance-sqlx's store: see
/// [`maintenance_sql::startup::Startup`] for what it does.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use maintenance_core::Policy;
///
/// let policy = Policy::builder().internal_networks(["10.0.0.0/8"]).build()?;
/// let maintenance = maintenance_sqlx::Startup::new("postgres://app@db.internal/app")
///     .start(policy)
///     .await?;
/// # Ok(())
/// # }
/// ```
///
/// On the application's own pool (sqlx 0.9), its own migrations beside ours:
///
/// ```no_run
/// # #[cfg(feature = "postgres")]
/// # async fn run(pool: maintenance_sqlx::sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
/// # use maintenance_core::Policy;
/// let store = maintenance_sqlx::PgStore::new(pool);
/// let maintenance = maintenance_sqlx::Startup::with_store(store)
///     .start(Policy::default())
///     .await?;
/// # Ok(())
/// # }
/// ```
pub type Startup = maintenance_sql::startup::Startup<SqlxStore>;

impl Migrate for SqlxStore {
    type Error = Error;

    async fn migrate(&self) -> Result<(), Error> {
        SqlxStore::migrate(self).await
    }

    fn is_unreachable(error: &Error) -> bool {
        error.is_unreachable()
    }
}

impl OpenLazy for SqlxStore {
    async fn open_lazy(url: &str) -> Result<Self, Error> {
        SqlxStore::connect_lazy(url).await
    }
}
