//! A server's start-up that survives a database outage, written once for both stores:
//! [`Startup`], which each store crate names for its own store (`maintenance_sqlx::Startup`,
//! `maintenance_diesel::Startup`), runs [`start`].
//!
//! The handle is returned at once when the database answers, and after at most
//! [`StartOptions::wait`] when it does not: the server then serves with the policy's fail mode
//! while, in the background, the migrations are tried again with jittered backoff, then the
//! first snapshot is loaded and the refresher follows the database. A database that answers but
//! refuses (a wrong password, missing grants, a schema the migrations do not fit) is an error
//! while start-up waits, so a misconfigured server stops with a clear message; after the wait it
//! is logged, and the handle follows whatever the database holds.

use std::error::Error as StdError;
use std::time::Duration;

use maintenance_core::{ErrorChain, Maintenance, MaintenanceSource, Policy, StateFile};

/// What [`start`] needs of a store beyond reading it.
pub trait Migrate: MaintenanceSource + Clone + 'static {
    /// What migrating fails with.
    type Error: StdError + Send + Sync + 'static;

    /// Creates or updates the tables (the store's `migrate()`).
    fn migrate(&self) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Whether `error` says the database could not be reached (worth trying again), rather than
    /// that it answered and refused.
    fn is_unreachable(error: &Self::Error) -> bool;
}

/// A store that can be opened from a URL without reaching the database.
pub trait OpenLazy: Migrate + Sized {
    /// Opens a store on `url`; PostgreSQL and MariaDB/MySQL connect on first use. Fails only
    /// on a URL that cannot be used (and on a SQLite file that cannot be opened).
    fn open_lazy(url: &str) -> impl Future<Output = Result<Self, Self::Error>> + Send;
}

/// Starts a server's [`Maintenance`] handle: the robust start-up every server wants, in one
/// call.
///
/// - PostgreSQL and MariaDB/MySQL are connected on first use, so a server starts while its
///   database is down and serves with the policy's fail mode until it answers.
/// - The migrations run when the database answers (tried again with jittered backoff), then the
///   first snapshot is loaded and the handle follows the database.
/// - [`Startup::start`] waits at most [`Startup::wait_at_most`] (5 s by default) for that.
/// - A database that answers but refuses (a wrong password, missing grants, a schema the
///   migrations do not fit) is an error while it waits, so a misconfigured server stops at once
///   with a message naming the URL (without its password).
///
/// Each store crate names it for its store: `maintenance_sqlx::Startup`,
/// `maintenance_diesel::Startup`.
#[derive(Debug)]
#[must_use = "a Startup does nothing until `start` is awaited"]
pub struct Startup<S> {
    target: Target<S>,
    options: StartOptions,
    state_file: Option<StateFile>,
}

#[derive(Debug)]
enum Target<S> {
    Url(String),
    Store(S),
}

impl<S: OpenLazy> Startup<S> {
    /// Start-up on the database `url` names (any URL the store's `connect` takes).
    pub fn new(url: impl Into<String>) -> Self {
        Startup {
            target: Target::Url(url.into()),
            options: StartOptions::default(),
            state_file: None,
        }
    }

    /// Start-up on a store of your own, for instance one on your application's pool.
    pub fn with_store(store: impl Into<S>) -> Self {
        Startup {
            target: Target::Store(store.into()),
            options: StartOptions::default(),
            state_file: None,
        }
    }

    /// How long [`Startup::start`] waits for the migrations and the first load before it
    /// returns the handle anyway, serving with the fail mode. Default 5 s.
    pub fn wait_at_most(mut self, wait: Duration) -> Self {
        self.options.wait = wait;
        self
    }

    /// Whether to run the migrations (default `true`). Turn it off for servers whose database
    /// role may only read; a deploy step (`maintenance migrate`) migrates then.
    pub fn migrate(mut self, migrate: bool) -> Self {
        self.options.migrate = migrate;
        self
    }

    /// Keeps the last known state in `file` ([`Maintenance::with_state_file`]): a server
    /// that starts while its database is down serves the state saved last time, once the wait
    /// is over, rather than the fail mode.
    pub fn state_file(mut self, file: StateFile) -> Self {
        self.state_file = Some(file);
        self
    }

    /// The options as set so far.
    pub fn options(&self) -> StartOptions {
        self.options
    }

    /// Opens the store and starts the handle, as [`Startup`] says.
    pub async fn start(self, policy: Policy) -> Result<Maintenance, S::Error> {
        let store = match self.target {
            Target::Url(url) => S::open_lazy(&url).await?,
            Target::Store(store) => store,
        };
        start_with_state_file(store, policy, self.options, self.state_file).await
    }
}

/// How [`start`] goes about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StartOptions {
    /// How long start-up waits for the migrations and the first load before serving with the
    /// fail mode. Default 5 s.
    pub wait: Duration,
    /// Whether to migrate (off for a server whose database role may only read). Default on.
    pub migrate: bool,
    /// The first wait before migrating again while the database cannot be reached; it doubles,
    /// with jitter, up to [`StartOptions::max_backoff`]. Default 100 ms.
    pub min_backoff: Duration,
    /// The longest wait between two attempts. Default 5 s.
    pub max_backoff: Duration,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            wait: Duration::from_secs(5),
            migrate: true,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// Starts the live handle over `store`, as the module says. Needs a Tokio runtime.
pub async fn start<S: Migrate>(
    store: S,
    policy: Policy,
    options: StartOptions,
) -> Result<Maintenance, S::Error> {
    start_with_state_file(store, policy, options, None).await
}

/// [`start`], keeping the last known state in `state_file`: when the wait is over with
/// nothing loaded, the state saved there serves until the database answers.
pub async fn start_with_state_file<S: Migrate>(
    store: S,
    policy: Policy,
    options: StartOptions,
    state_file: Option<StateFile>,
) -> Result<Maintenance, S::Error> {
    let fail_mode = policy.fail_mode();
    let mut maintenance = Maintenance::new(store.clone(), policy);
    if let Some(file) = state_file {
        maintenance = maintenance.with_state_file(file);
    }
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(prepare(store, maintenance.clone(), options, ready_tx));
    match tokio::time::timeout(options.wait, ready_rx).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => return Err(e),
        // The task ended without a word: what it met is in the log; serve as in an outage.
        Ok(Err(_)) => tracing::warn!(
            ?fail_mode,
            "maintenance start-up ended early; serving with the fail mode"
        ),
        Err(_) if maintenance.serve_saved_state() => {}
        Err(_) => tracing::warn!(
            waited = ?options.wait,
            ?fail_mode,
            "the maintenance database did not answer in time; serving with the fail mode until it does"
        ),
    }
    Ok(maintenance)
}

/// Migrations (retried while the database cannot be reached), then the first load and the
/// refresher. Sends how the migrations went to `ready` if start-up still waits for it.
async fn prepare<S: Migrate>(
    store: S,
    maintenance: Maintenance,
    options: StartOptions,
    ready: tokio::sync::oneshot::Sender<Result<(), S::Error>>,
) {
    let migrated = if options.migrate {
        migrate_when_reachable(&store, &options).await
    } else {
        Ok(())
    };
    if let Err(e) = migrated {
        match ready.send(Err(e)) {
            // Start-up fails with the error.
            Ok(()) => return,
            // Start-up is over: say so, and follow what the database holds anyway (its tables
            // may be fine, e.g. migrated by a deploy step).
            Err(Err(e)) => {
                tracing::error!(error = %ErrorChain(&e), "could not migrate the maintenance tables");
            }
            Err(Ok(())) => {}
        }
        maintenance.load_and_follow().await;
        return;
    }
    maintenance.load_and_follow().await;
    if ready.send(Ok(())).is_err() && maintenance.snapshot().is_some() {
        tracing::info!("the maintenance database answers; serving its state");
    }
}

/// Runs the migrations, trying again with jittered backoff while the database cannot be
/// reached; other errors are returned. Logs the outage once, and its end.
async fn migrate_when_reachable<S: Migrate>(
    store: &S,
    options: &StartOptions,
) -> Result<(), S::Error> {
    let mut backoff = options.min_backoff;
    let mut waited = false;
    loop {
        match store.migrate().await {
            Ok(()) => {
                if waited {
                    tracing::info!("the database answers; maintenance tables migrated");
                }
                return Ok(());
            }
            Err(e) if S::is_unreachable(&e) => {
                let pause = jittered(backoff);
                if waited {
                    tracing::debug!(error = %ErrorChain(&e), retry_in = ?pause, "database still unreachable");
                } else {
                    tracing::warn!(error = %ErrorChain(&e),
                        "database unreachable; migrating the maintenance tables as soon as it answers");
                    waited = true;
                }
                tokio::time::sleep(pause).await;
                backoff = (backoff * 2).min(options.max_backoff);
            }
            Err(e) => return Err(e),
        }
    }
}

/// `backoff` scaled by a random factor in [0.5, 1.0), so that servers started together do not
/// all try again in the same instant ([`maintenance_core::backoff::jittered`]).
pub use maintenance_core::backoff::jittered;
