//! The pools the stores (and [`crate::DjangoSource`]) open on a URL: their acquire timeout, and
//! connect errors that name the URL without its password.

use sqlx::pool::PoolOptions;
use sqlx::{Connection, Database, Pool};

use crate::error::Error;
use crate::url::redact_url;

/// The options of a store's pool: waiting at most [`crate::CONNECT_TIMEOUT`] for a connection.
pub(crate) fn options<B: Database>() -> PoolOptions<B> {
    PoolOptions::new().acquire_timeout(crate::CONNECT_TIMEOUT)
}

/// The error of connecting to `url`, naming it without its password.
pub(crate) fn connect_error(url: &str, source: sqlx::Error) -> Error {
    Error::Connect {
        url: redact_url(url),
        source,
    }
}

/// A pool on `connect` (the options read from `url`), with a first connection open.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) async fn connect<B: Database>(
    connect: <B::Connection as Connection>::Options,
    url: &str,
) -> Result<Pool<B>, Error> {
    options()
        .connect_with(connect)
        .await
        .map_err(|source| connect_error(url, source))
}

/// A pool on `connect` that opens its first connection on first use, and holds one at most: a
/// server's reads (the handle's polls and reloads) come one at a time, so a fleet of servers
/// costs the database one connection each. On PostgreSQL the reads move to the change feed's
/// connection once it listens, and the pool's, idle, closes after [`LAZY_IDLE_TIMEOUT`].
pub(crate) fn lazy<B: Database>(connect: <B::Connection as Connection>::Options) -> Pool<B> {
    options()
        .max_connections(1)
        .idle_timeout(LAZY_IDLE_TIMEOUT)
        .connect_lazy_with(connect)
}

/// How long an unused connection of a lazily opened pool stays open.
pub(crate) const LAZY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
