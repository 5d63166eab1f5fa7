//! The pools the stores build on a URL: their timeouts, and errors that name the URL without
//! its password.

use deadpool::managed::{Manager, PoolBuilder};
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolableConnection};

use crate::error::{BoxError, Error};
use crate::url::redact_url;

/// A pool of at most `size` connections from `manager`, waiting at most
/// [`crate::CONNECT_TIMEOUT`] for a connection and for a new one to open.
pub(crate) fn builder<C>(
    manager: AsyncDieselConnectionManager<C>,
    size: usize,
) -> PoolBuilder<AsyncDieselConnectionManager<C>>
where
    C: PoolableConnection + 'static,
    AsyncDieselConnectionManager<C>: Manager,
{
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(crate::CONNECT_TIMEOUT))
        .create_timeout(Some(crate::CONNECT_TIMEOUT))
        .runtime(deadpool::Runtime::Tokio1)
}

/// The error of connecting to `url`, naming it without its password.
pub(crate) fn connect_error(url: &str, source: impl Into<BoxError>) -> Error {
    Error::Connect {
        url: redact_url(url),
        source: source.into(),
    }
}

/// Builds `builder`'s pool for `url`.
pub(crate) fn build<C>(
    builder: PoolBuilder<AsyncDieselConnectionManager<C>>,
    url: &str,
) -> Result<Pool<C>, Error>
where
    C: PoolableConnection + 'static,
    AsyncDieselConnectionManager<C>: Manager,
{
    builder.build().map_err(|e| connect_error(url, e))
}

/// Takes one connection from `pool`, which opens one to `url` if it has none: whether the
/// server answers and lets us in.
pub(crate) async fn check<C>(pool: &Pool<C>, url: &str) -> Result<(), Error>
where
    C: PoolableConnection + 'static,
    AsyncDieselConnectionManager<C>: Manager<Type = C>,
    <AsyncDieselConnectionManager<C> as Manager>::Error: std::error::Error + Send + Sync + 'static,
{
    pool.get()
        .await
        .map(drop)
        .map_err(|e| connect_error(url, e))
}
