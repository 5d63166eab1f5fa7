//! [`Startup`]: a server's `Maintenance` handle on a database that may be down.

use maintenance_sql::startup::{Migrate, OpenLazy};

use crate::any::DieselStore;
use crate::error::Error;

/// Starts a server's [`Maintenance`](maintenance_core::Maintenance) handle on a database that
/// may be down, with maintenance-diesel's store: see
/// [`maintenance_sql::startup::Startup`] for what it does.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use maintenance_core::Policy;
///
/// let policy = Policy::builder().internal_networks(["10.0.0.0/8"]).build()?;
/// let maintenance = maintenance_diesel::Startup::new("postgres://app@db.internal/app")
///     .start(policy)
///     .await?;
/// # Ok(())
/// # }
/// ```
///
/// On the application's own diesel-async pool, its own migrations beside ours:
///
/// ```no_run
/// # #[cfg(feature = "postgres")]
/// # async fn run(pool: maintenance_diesel::PgPool) -> Result<(), Box<dyn std::error::Error>> {
/// # use maintenance_core::Policy;
/// let store = maintenance_diesel::PgStore::new(pool);
/// let maintenance = maintenance_diesel::Startup::with_store(store)
///     .start(Policy::default())
///     .await?;
/// # Ok(())
/// # }
/// ```
pub type Startup = maintenance_sql::startup::Startup<DieselStore>;

impl Migrate for DieselStore {
    type Error = Error;

    async fn migrate(&self) -> Result<(), Error> {
        DieselStore::migrate(self).await
    }

    fn is_unreachable(error: &Error) -> bool {
        error.is_unreachable()
    }
}

impl OpenLazy for DieselStore {
    async fn open_lazy(url: &str) -> Result<Self, Error> {
        DieselStore::connect_lazy(url).await
    }
}
