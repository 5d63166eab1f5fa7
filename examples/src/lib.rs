//! The test project of maintenance-rs: the same small site for every framework, configured by
//! environment, so one HTTP conformance suite runs against each of them.
//!
//! Routes: `/` ("This is the home view."), `/ignored-page/` ("Ignored"), `/admin/login/`
//! (GET: a form; POST `username`, `password`: sets a session cookie), `/api/items` (JSON;
//! POST adds an item), `/healthz` (`ok`, for load balancers) and `/metrics` (Prometheus text).
//! The policy ignores `^admin` like django-maintenancemode-2, and `/healthz` and `/metrics`, which are never
//! blocked.
//!
//! The demo accounts `staff`/`staff`, `super`/`super` and `user`/`user` exist for the demo
//! and the tests only: never deploy them.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use maintenance_core::server_override::ServerOverride;
use maintenance_core::{
    FailMode, Identity, Maintenance, MaintenanceStore, Policy, PolicyError, UnknownHost,
};

pub mod actix_app;
pub mod axum_app;
pub mod hyper_app;
pub mod rocket_app;
pub mod tonic_app;
pub mod worker;

/// The test project's settings, read from the environment (see [`Config::from_env`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `DATABASE_URL`, default `sqlite://maintenance.db` (migrated at start, see `migrate`).
    pub database_url: String,
    /// `BIND`, default `127.0.0.1:3000`.
    pub bind: SocketAddr,
    /// `INTERNAL_IPS`: comma-separated CIDRs or addresses.
    pub internal_ips: Vec<String>,
    /// `TRUSTED_PROXIES`: comma-separated CIDRs or addresses.
    pub trusted_proxies: Vec<String>,
    /// `BLOCK_STAFF=1`.
    pub block_staff: bool,
    /// `MAINTENANCE_LAYER=off` serves without the maintenance layer (for benchmarks).
    pub layer: bool,
    /// `MAINTENANCE_ALLOW_REASON` (default on): the layer leaves the reason a request passed
    /// for the handlers (the home view's banner before a window). Off, the layer is as a
    /// library gives it by default, with nothing added to a request that passes (for
    /// benchmarks).
    pub allow_reason: bool,
    /// `MAINTENANCE_POLL_MS`: how often the revision is polled (default 250).
    pub poll_interval: Duration,
    /// `UNKNOWN_HOST`: what a host that names no site gets, `default` (the default site, as
    /// django-maintenancemode-2) or `strictest` (blocked while any site is in maintenance).
    pub unknown_host: UnknownHost,
    /// `BYPASS_SIGNING_KEY`: the key bypass cookies are signed with, the same on every server
    /// (e.g. `openssl rand -hex 32`). Without one, anyone who can read the database can mint
    /// bypass cookies, and the server says so in its log at start-up.
    pub bypass_signing_key: Option<SigningKey>,
    /// `MAINTENANCE_FAIL_MODE`: `open` (the default: serve) or `closed` (answer 503) while no
    /// state could be loaded yet, e.g. when the database is down at start-up.
    pub fail_mode: FailMode,
    /// `MAINTENANCE_MIGRATE` (default on): run the store's migrations at start-up, or as soon
    /// as the database answers if it is down then. Off for a database migrated by a deploy step.
    pub migrate: bool,
    /// `MAINTENANCE_STARTUP_WAIT_MS` (default 5000): how long start-up waits for the database
    /// (migrations and first load) before serving with the fail mode; the rest then goes on in
    /// the background.
    pub startup_wait: Duration,
    /// `MAINTENANCE_REDIRECT_TO`: send browsers to this status page (an `http(s)` URL or a
    /// path) instead of showing them the maintenance page.
    pub redirect_to: Option<String>,
    /// `MAINTENANCE_REFRESH`: `off` (default), `on` (pages reload themselves when `Retry-After`
    /// has passed), or a number of seconds (the same, and that delay when no `Retry-After` is
    /// known).
    pub refresh: Option<Option<Duration>>,
    /// `MAINTENANCE_STORE`: where the state is read from, `maintenance` (the default: our
    /// tables), `django` (django-maintenancemode-2's tables, read-only, never migrated) or
    /// `nats` (the bucket `maintenance relay` writes; no database connection at all).
    pub store: StoreKind,
    /// `NATS_URL` (default `nats://127.0.0.1:4222`): the NATS server(s) of `MAINTENANCE_STORE=nats`.
    pub nats_url: String,
    /// `MAINTENANCE_NATS_BUCKET` (default `maintenance`): the bucket of `MAINTENANCE_STORE=nats`.
    pub nats_bucket: String,
    /// `MAINTENANCE_STATE_FILE`: where the last known state is kept, so that a server started
    /// while its source (the database, or NATS) cannot be reached serves it (see
    /// [`maintenance_core::StateFile`]). Not used for django-maintenancemode-2's tables.
    pub state_file: Option<std::path::PathBuf>,
    /// `MAINTENANCE_STATUS_PATH` (default `/_maintenance/status`, `off` for none): where the
    /// public status answer is served ([`maintenance_core::status`]).
    pub status_path: Option<String>,
    /// `MAINTENANCE_ANNOUNCE_SECS` (default 3600, `0` or `off` for never): how long before a
    /// window the responses that pass carry the `Maintenance-Window` header.
    pub announce_within: Option<Duration>,
    /// `MAINTENANCE_OVERRIDE`: `on` or `off` puts this server in or out of maintenance
    /// whatever the store says ([`maintenance_core::server_override`]); empty or unset, the
    /// store decides.
    pub server_override: Option<ServerOverride>,
    /// `MAINTENANCE_OVERRIDE_FILE`: a file holding `on`, `off` or nothing, watched by the
    /// handle; it beats `MAINTENANCE_OVERRIDE`.
    pub override_file: Option<std::path::PathBuf>,
}

/// Which tables a test project reads its maintenance state from (`MAINTENANCE_STORE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// maintenance-rs's own tables, migrated at start unless `MAINTENANCE_MIGRATE=off`.
    Maintenance,
    /// The tables of django-maintenancemode-2 in a Django project's database
    /// ([`maintenance_sqlx::DjangoSource`]), with this `SITE_ID` (`DJANGO_SITE_ID`, default 1)
    /// as the default site. Read-only: nothing is written or migrated.
    Django {
        /// The Django `SITE_ID`.
        site_id: i64,
    },
    /// The NATS JetStream bucket that `maintenance relay` keeps in step with the database
    /// (`NATS_URL`, `MAINTENANCE_NATS_BUCKET`), through [`maintenance_nats::NatsSource`].
    Nats,
}

/// A bypass signing key; its `Debug` output never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(pub String);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: "sqlite://maintenance.db".to_owned(),
            bind: SocketAddr::from(([127, 0, 0, 1], 3000)),
            internal_ips: Vec::new(),
            trusted_proxies: Vec::new(),
            block_staff: false,
            layer: true,
            allow_reason: true,
            poll_interval: Duration::from_millis(250),
            unknown_host: UnknownHost::DefaultSite,
            bypass_signing_key: None,
            fail_mode: FailMode::Open,
            migrate: true,
            startup_wait: Duration::from_secs(5),
            redirect_to: None,
            refresh: None,
            store: StoreKind::Maintenance,
            nats_url: "nats://127.0.0.1:4222".to_owned(),
            nats_bucket: maintenance_nats::DEFAULT_BUCKET.to_owned(),
            state_file: None,
            status_path: Some(DEFAULT_STATUS_PATH.to_owned()),
            announce_within: Some(Duration::from_secs(3600)),
            server_override: None,
            override_file: None,
        }
    }
}

/// Where the test projects serve the status answer unless `MAINTENANCE_STATUS_PATH` says
/// otherwise.
pub const DEFAULT_STATUS_PATH: &str = "/_maintenance/status";

/// A setting that cannot be used; names the variable and the value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A variable with a bad value.
    #[error("environment variable {name}={value:?}: {expected}")]
    Var {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The policy refused a value.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The store could not be opened or migrated; the source says why.
    #[error("database {url}")]
    Store {
        /// The URL, without password.
        url: String,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The whole number greater than 0 that `value` (trimmed) is, or an error naming the variable.
fn positive<T: std::str::FromStr + PartialOrd + From<u8>>(
    name: &'static str,
    value: &str,
    expected: &'static str,
) -> Result<T, ConfigError> {
    value
        .trim()
        .parse::<T>()
        .ok()
        .filter(|n| *n > T::from(0))
        .ok_or_else(|| ConfigError::Var {
            name,
            value: value.to_owned(),
            expected,
        })
}

/// The choice that `value` (trimmed, in any case) names, or an error naming the variable.
fn one_of<T: Copy>(
    name: &'static str,
    value: String,
    choices: &[(&str, T)],
    expected: &'static str,
) -> Result<T, ConfigError> {
    let key = value.trim();
    match choices.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
        Some(&(_, choice)) => Ok(choice),
        None => Err(ConfigError::Var {
            name,
            value,
            expected,
        }),
    }
}

impl Config {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `var` (the environment, or a map in tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        if let Some(url) = var("DATABASE_URL").filter(|v| !v.trim().is_empty()) {
            c.database_url = url;
        }
        if let Some(bind) = var("BIND") {
            c.bind = bind.trim().parse().map_err(|_| ConfigError::Var {
                name: "BIND",
                value: bind.clone(),
                expected: "an address and port such as 127.0.0.1:3000",
            })?;
        }
        if let Some(v) = var("INTERNAL_IPS") {
            c.internal_ips = list(&v);
        }
        if let Some(v) = var("TRUSTED_PROXIES") {
            c.trusted_proxies = list(&v);
        }
        let flag = |name: &'static str, value: String| match value.trim() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" | "" => Ok(false),
            _ => Err(ConfigError::Var {
                name,
                value,
                expected: "1 or 0 (true/false, yes/no, on/off)",
            }),
        };
        if let Some(v) = var("BLOCK_STAFF") {
            c.block_staff = flag("BLOCK_STAFF", v)?;
        }
        if let Some(v) = var("MAINTENANCE_LAYER") {
            c.layer = flag("MAINTENANCE_LAYER", v)?;
        }
        if let Some(v) = var("MAINTENANCE_ALLOW_REASON") {
            c.allow_reason = flag("MAINTENANCE_ALLOW_REASON", v)?;
        }
        if let Some(v) = var("MAINTENANCE_POLL_MS") {
            let expected = "a number of milliseconds greater than 0";
            c.poll_interval = Duration::from_millis(positive("MAINTENANCE_POLL_MS", &v, expected)?);
        }
        if let Some(v) = var("MAINTENANCE_FAIL_MODE") {
            let modes = [("open", FailMode::Open), ("closed", FailMode::Closed)];
            c.fail_mode = one_of("MAINTENANCE_FAIL_MODE", v, &modes, "open or closed")?;
        }
        if let Some(v) = var("UNKNOWN_HOST") {
            let choices = [
                ("default", UnknownHost::DefaultSite),
                ("", UnknownHost::DefaultSite),
                ("strictest", UnknownHost::Strictest),
            ];
            let expected = "`default` (the default site) or `strictest`";
            c.unknown_host = one_of("UNKNOWN_HOST", v, &choices, expected)?;
        }
        if let Some(v) = var("MAINTENANCE_MIGRATE") {
            c.migrate = flag("MAINTENANCE_MIGRATE", v)?;
        }
        if let Some(v) = var("MAINTENANCE_STARTUP_WAIT_MS") {
            let ms: u64 = v.trim().parse().map_err(|_| ConfigError::Var {
                name: "MAINTENANCE_STARTUP_WAIT_MS",
                value: v.clone(),
                expected: "a number of milliseconds (0 serves at once)",
            })?;
            c.startup_wait = Duration::from_millis(ms);
        }
        if let Some(v) = var("MAINTENANCE_REDIRECT_TO").filter(|v| !v.trim().is_empty()) {
            c.redirect_to = Some(v.trim().to_owned());
        }
        if let Some(v) = var("MAINTENANCE_OVERRIDE") {
            c.server_override = ServerOverride::parse(&v).map_err(|_| ConfigError::Var {
                name: "MAINTENANCE_OVERRIDE",
                value: v.clone(),
                expected: "on, off, or empty (the store decides)",
            })?;
        }
        if let Some(v) = var("MAINTENANCE_OVERRIDE_FILE").filter(|v| !v.trim().is_empty()) {
            c.override_file = Some(v.trim().into());
        }
        if let Some(v) = var("MAINTENANCE_STATUS_PATH") {
            c.status_path = match v.trim() {
                "" | "off" => None,
                path => Some(path.to_owned()),
            };
        }
        if let Some(v) = var("MAINTENANCE_ANNOUNCE_SECS") {
            c.announce_within = match v.trim() {
                "" | "0" | "off" => None,
                _ => {
                    let expected = "a number of seconds, or 0 or off for never";
                    let secs = positive("MAINTENANCE_ANNOUNCE_SECS", &v, expected)?;
                    Some(Duration::from_secs(secs))
                }
            };
        }
        if let Some(v) = var("MAINTENANCE_REFRESH") {
            c.refresh = match v.trim() {
                "" | "0" | "off" | "no" | "false" => None,
                "on" | "yes" | "true" => Some(None),
                _ => {
                    let expected = "off, on, or a number of seconds greater than 0";
                    let secs = positive("MAINTENANCE_REFRESH", &v, expected)?;
                    Some(Some(Duration::from_secs(secs)))
                }
            };
        }
        if let Some(v) = var("MAINTENANCE_STORE") {
            let kinds = [
                ("maintenance", StoreKind::Maintenance),
                ("", StoreKind::Maintenance),
                ("django", StoreKind::Django { site_id: 1 }),
                ("nats", StoreKind::Nats),
            ];
            let expected = "`maintenance` (our tables), `django` (django-maintenancemode-2's) or `nats` (the relay's bucket)";
            c.store = one_of("MAINTENANCE_STORE", v, &kinds, expected)?;
        }
        if let Some(v) = var("NATS_URL").filter(|v| !v.trim().is_empty()) {
            c.nats_url = v.trim().to_owned();
        }
        if let Some(v) = var("MAINTENANCE_NATS_BUCKET").filter(|v| !v.trim().is_empty()) {
            c.nats_bucket = v.trim().to_owned();
        }
        if let Some(v) = var("MAINTENANCE_STATE_FILE").filter(|v| !v.trim().is_empty()) {
            c.state_file = Some(v.trim().into());
        }
        if let Some(v) = var("DJANGO_SITE_ID").filter(|v| !v.trim().is_empty()) {
            let expected = "the Django SITE_ID, a whole number greater than 0";
            let site_id = positive("DJANGO_SITE_ID", &v, expected)?;
            // Read by the Django source only; our tables have a default site of their own.
            if let StoreKind::Django { site_id: id } = &mut c.store {
                *id = site_id;
            }
        }
        if let Some(v) = var("BYPASS_SIGNING_KEY").filter(|v| !v.trim().is_empty()) {
            if v.trim().len() < 32 {
                return Err(ConfigError::Var {
                    name: "BYPASS_SIGNING_KEY",
                    value: format!("({} characters, not shown)", v.trim().len()),
                    expected: "a key of at least 32 characters, e.g. from `openssl rand -hex 32`",
                });
            }
            c.bypass_signing_key = Some(SigningKey(v.trim().to_owned()));
        }
        Ok(c)
    }

    /// The policy: django-maintenancemode-2's defaults plus these settings.
    pub fn policy(&self) -> Result<Policy, ConfigError> {
        let mut builder = Policy::builder()
            .ignored_patterns(IGNORED_PATTERNS)
            .internal_networks(&self.internal_ips)
            .trusted_proxies(&self.trusted_proxies)
            .block_staff(self.block_staff)
            .poll_interval(self.poll_interval)
            .fail_mode(self.fail_mode)
            .unknown_host(self.unknown_host);
        if let Some(key) = &self.bypass_signing_key {
            builder = builder.bypass_signing_key(key.0.as_bytes().to_vec());
        }
        if let Some(target) = &self.redirect_to {
            builder = builder.redirect_to(target);
        }
        if let Some(fallback) = self.refresh {
            builder = builder.refresh(fallback);
        }
        if let Some(path) = &self.status_path {
            builder = builder.status_path(path);
        }
        if let Some(file) = &self.override_file {
            builder = builder.override_file(file);
        }
        builder = builder.server_override(self.server_override);
        if let Some(lead) = self.announce_within {
            builder = builder.announce_within(lead);
        }
        Ok(builder.build()?)
    }

    /// Opens the store, migrates it (with `migrate`) and starts the live handle, through
    /// [`maintenance_sqlx::Startup`]: the database may be down (start-up waits at most
    /// `startup_wait`, then serves with the fail mode until it answers), and one that answers
    /// but refuses stops start-up with an error.
    pub async fn start_maintenance(&self) -> Result<Maintenance, ConfigError> {
        let policy = self.policy()?;
        // Before the handle, which registers its metrics with the recorder installed then.
        prometheus();
        let url = &self.database_url;
        match self.store {
            StoreKind::Django { site_id } => return self.start_django(policy, site_id).await,
            StoreKind::Nats => return self.start_nats(policy).await,
            StoreKind::Maintenance => {}
        }
        let mut startup = maintenance_sqlx::Startup::new(url.as_str())
            .wait_at_most(self.startup_wait)
            .migrate(self.migrate);
        if let Some(path) = &self.state_file {
            let origin = maintenance_sqlx::redact_url(url);
            startup = startup.state_file(maintenance_core::StateFile::new(path, origin));
        }
        startup.start(policy).await.map_err(|e| store_error(url, e))
    }

    /// [`Config::start_maintenance`] when the layer is on, `None` when `MAINTENANCE_LAYER=off`
    /// serves without it.
    pub async fn start_maintenance_if_layered(&self) -> Result<Option<Maintenance>, ConfigError> {
        if self.layer {
            self.start_maintenance().await.map(Some)
        } else {
            Ok(None)
        }
    }
}

impl Config {
    /// [`Config::start_maintenance`] over the relay's NATS bucket: the handle follows it with
    /// one NATS connection and none to the database. NATS may be down: start-up waits at most
    /// `startup_wait` for the bucket, serving the state file's state (with
    /// `MAINTENANCE_STATE_FILE`) or the fail mode meanwhile and until it answers.
    async fn start_nats(&self, policy: Policy) -> Result<Maintenance, ConfigError> {
        let source = maintenance_nats::NatsSource::connect(&self.nats_url, &self.nats_bucket)
            .await
            .map_err(|e| ConfigError::Store {
                url: self.nats_url.clone(),
                source: Box::new(e),
            })?
            .load_timeout(self.startup_wait);
        let mut maintenance = Maintenance::new(source, policy);
        if let Some(path) = &self.state_file {
            let origin = format!("{} bucket {}", self.nats_url, self.nats_bucket);
            maintenance =
                maintenance.with_state_file(maintenance_core::StateFile::new(path, origin));
        }
        maintenance.load_and_follow().await;
        tracing::info!(url = %self.nats_url, bucket = %self.nats_bucket, "following the maintenance bucket");
        Ok(maintenance)
    }

    /// [`Config::start_maintenance`] over django-maintenancemode-2's tables: no migration (the
    /// Django project owns its tables), then the first load, waited for at most
    /// `startup_wait` as with our own tables. A database that answers but cannot be read (the
    /// Django migrations not applied, a SQLite file that does not exist) stops start-up with
    /// the error; one that does not answer leaves the server serving with the fail mode until
    /// it does.
    async fn start_django(&self, policy: Policy, site_id: i64) -> Result<Maintenance, ConfigError> {
        let url = &self.database_url;
        let source = maintenance_sqlx::DjangoSource::connect_lazy(url)
            .map_err(|e| store_error(url, e))?
            .with_site_id(site_id);
        let maintenance = Maintenance::new(source.clone(), policy);
        let started = tokio::time::Instant::now();
        match tokio::time::timeout(self.startup_wait, source.digest()).await {
            Ok(Err(e)) if !e.is_unreachable() => return Err(store_error(url, e)),
            Ok(_) => {}
            Err(_) => tracing::warn!(
                waited = ?self.startup_wait,
                fail_mode = ?self.fail_mode,
                "the Django database did not answer in time; serving with the fail mode until it does"
            ),
        }
        let loading = maintenance.clone();
        let first_load = tokio::spawn(async move { loading.load_and_follow().await });
        let left = self.startup_wait.saturating_sub(started.elapsed());
        // On time out the load goes on in the background, and the refresher after it.
        let _ = tokio::time::timeout(left, first_load).await;
        tracing::info!(site_id, "reading django-maintenancemode-2's tables");
        Ok(maintenance)
    }
}

/// The patterns the test projects ignore on every site: django-maintenancemode-2's `^admin`, the health check,
/// the metrics, and the gRPC health service of `testproject-tonic`.
pub const IGNORED_PATTERNS: [&str; 4] = [
    "^admin",
    "^healthz$",
    "^metrics$",
    r"^grpc\.health\.v1\.Health/",
];

/// The body of `GET /healthz`.
pub const HEALTHZ: &str = "ok";

/// The `Content-Type` of `GET /metrics` (the Prometheus text format).
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The process's Prometheus recorder, installed as the global `metrics` recorder on first use.
/// Its handle renders `GET /metrics`.
///
/// If another recorder was installed first, this one renders an empty page, and the warning
/// says why.
pub fn prometheus() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics shows nothing");
        }
        handle
    })
}

/// The text of `GET /metrics`.
pub fn metrics_text() -> String {
    prometheus().render()
}

fn store_error(url: &str, e: maintenance_sqlx::Error) -> ConfigError {
    ConfigError::Store {
        url: maintenance_sqlx::redact_url(url),
        source: Box::new(e),
    }
}

/// Opens the store at `url` and runs its migrations, now: fails if the database is down (what
/// an operator's tool wants; a server uses [`Config::start_maintenance`]).
pub async fn open_store(url: &str) -> Result<Arc<dyn MaintenanceStore>, ConfigError> {
    let store = maintenance_sqlx::connect(url)
        .await
        .map_err(|e| store_error(url, e))?;
    store.migrate().await.map_err(|e| store_error(url, e))?;
    Ok(Arc::new(store))
}

/// A demo account: name, password, identity.
pub const DEMO_ACCOUNTS: [(&str, &str, Identity); 3] = [
    ("staff", "staff", Identity::Staff),
    ("super", "super", Identity::Superuser),
    ("user", "user", Identity::Anonymous),
];

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sessionid";

/// Logged-in sessions, in memory: random token -> identity.
#[derive(Debug, Default, Clone)]
pub struct Sessions {
    by_token: Arc<Mutex<HashMap<String, (String, Identity)>>>,
}

impl Sessions {
    /// Checks a demo account; returns the new session's token.
    pub fn login(&self, username: &str, password: &str) -> Option<String> {
        let (_, _, identity) = DEMO_ACCOUNTS
            .iter()
            .find(|(u, p, _)| *u == username && *p == password)?;
        let token = maintenance_core::bypass::generate_secret().ok()?;
        self.lock()
            .insert(token.clone(), (username.to_owned(), *identity));
        Some(token)
    }

    /// The identity of the session named in the request's cookies.
    pub fn identity(&self, headers: &http::HeaderMap) -> Identity {
        self.user(headers).map_or(Identity::Anonymous, |(_, id)| id)
    }

    /// The user name and identity of the session named in the request's cookies.
    pub fn user(&self, headers: &http::HeaderMap) -> Option<(String, Identity)> {
        self.user_from_cookies(
            headers
                .get_all(http::header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        )
    }

    /// The user name and identity of the session named in `Cookie` header lines, for servers
    /// whose header types are not `http` 1.x (actix-web 4, rocket).
    pub fn user_from_cookies<'a>(
        &self,
        lines: impl IntoIterator<Item = &'a str>,
    ) -> Option<(String, Identity)> {
        let token = lines
            .into_iter()
            .flat_map(|line| line.split(';'))
            .find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                (k == SESSION_COOKIE).then_some(v)
            })?;
        self.lock().get(token).cloned()
    }

    /// The identity of the session named in `Cookie` header lines.
    pub fn identity_from_cookies<'a>(&self, lines: impl IntoIterator<Item = &'a str>) -> Identity {
        self.user_from_cookies(lines)
            .map_or(Identity::Anonymous, |(_, id)| id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Identity)>> {
        self.by_token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The login form.
pub const LOGIN_FORM: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Log in</title></head>
<body>
<h1>Log in</h1>
<p>Demo accounts only: staff/staff, super/super, user/user.</p>
<form method="post" action="/admin/login/">
<label>Username <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Log in</button>
</form>
</body></html>
"#;

/// The items `/api/items` lists.
pub fn items() -> serde_json::Value {
    serde_json::json!([
        {"id": 1, "name": "Widget"},
        {"id": 2, "name": "Gadget"},
    ])
}

/// Sets up logging from `RUST_LOG` (default `info`).
pub fn init_logging() {
    init_logging_or(LOG_FILTER);
}

/// Sets up logging from `RUST_LOG`, or from the filter `default` without it.
pub fn init_logging_or(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).init();
}

/// What a test project's start-up fails with.
pub type MainError = Box<dyn std::error::Error>;

/// The logging filter of the test projects without `RUST_LOG`.
pub const LOG_FILTER: &str = "info";

/// Runs a test project, the program `name`: sets up logging from `RUST_LOG` (else from
/// `log_filter`), reads the [`Config`] from the environment and runs `serve` with it to its
/// end. The exit code is a failure, with the error printed after `name`, if either fails.
pub async fn run_main(
    name: &str,
    log_filter: &str,
    serve: impl AsyncFnOnce(Config) -> Result<(), MainError>,
) -> ExitCode {
    init_logging_or(log_filter);
    let result = match Config::from_env() {
        Ok(config) => serve(config).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {:#}", maintenance_core::ErrorChain(&*e));
            ExitCode::FAILURE
        }
    }
}

fn cannot_listen(bind: SocketAddr, e: &std::io::Error) -> String {
    format!("cannot listen on {bind}: {e}")
}

/// A Tokio listener on `bind`; the error names the address.
pub async fn listen(bind: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| cannot_listen(bind, &e))
}

/// A standard library listener on `bind` (for actix-web); the error names the address.
pub fn listen_std(bind: SocketAddr) -> Result<std::net::TcpListener, String> {
    std::net::TcpListener::bind(bind).map_err(|e| cannot_listen(bind, &e))
}

impl Config {
    /// Logs that the program `name` serves with these settings: `what` is how it is
    /// (`listening on`, `starting on`), followed by its address.
    pub fn log_serving(&self, name: &str, what: &str) {
        tracing::info!(
            address = %self.bind,
            database = %maintenance_sqlx::redact_url(&self.database_url),
            maintenance_layer = self.layer,
            "{name} {what} http://{}/",
            self.bind
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_and_checks_the_environment() {
        let vars: HashMap<&str, &str> = [
            ("BIND", "127.0.0.1:4000"),
            ("INTERNAL_IPS", "127.0.0.1, 10.0.0.0/8"),
            ("BLOCK_STAFF", "1"),
            ("MAINTENANCE_LAYER", "off"),
            ("MAINTENANCE_ALLOW_REASON", "off"),
        ]
        .into();
        let c = Config::from_vars(|k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert!(!c.allow_reason);
        assert!(Config::default().allow_reason);
        assert_eq!(c.bind.port(), 4000);
        assert_eq!(c.internal_ips, ["127.0.0.1", "10.0.0.0/8"]);
        assert!(c.block_staff && !c.layer);
        assert_eq!(c.database_url, "sqlite://maintenance.db");

        let bad = Config::from_vars(|k| (k == "BIND").then(|| "nowhere".to_owned())).unwrap_err();
        assert!(bad.to_string().contains("BIND=\"nowhere\""), "{bad}");
        let bad =
            Config::from_vars(|k| (k == "BLOCK_STAFF").then(|| "maybe".to_owned())).unwrap_err();
        assert!(bad.to_string().contains("BLOCK_STAFF"), "{bad}");
        assert_eq!(c.fail_mode, FailMode::Open);
        assert!(c.migrate);

        let vars: HashMap<&str, &str> = [
            ("MAINTENANCE_FAIL_MODE", "Closed"),
            ("MAINTENANCE_MIGRATE", "0"),
            ("MAINTENANCE_STARTUP_WAIT_MS", "0"),
        ]
        .into();
        let c = Config::from_vars(|k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.fail_mode, FailMode::Closed);
        assert_eq!(c.policy().unwrap().fail_mode(), FailMode::Closed);
        assert!(!c.migrate);
        assert_eq!(c.startup_wait, Duration::ZERO);
        for (name, value) in [
            ("MAINTENANCE_FAIL_MODE", "ajar"),
            ("MAINTENANCE_STARTUP_WAIT_MS", "-1"),
        ] {
            let bad = Config::from_vars(|k| (k == name).then(|| value.to_owned())).unwrap_err();
            assert!(bad.to_string().contains(name), "{bad}");
        }

        let c =
            Config::from_vars(|k| (k == "INTERNAL_IPS").then(|| "10.0.0.0/99".to_owned())).unwrap();
        let err = c.policy().unwrap_err();
        let err = maintenance_core::ErrorChain(&err).to_string();
        assert!(err.contains("10.0.0.0/99"), "{err}");
    }

    #[test]
    fn store_settings() {
        assert_eq!(Config::default().store, StoreKind::Maintenance);
        let vars: HashMap<&str, &str> =
            [("MAINTENANCE_STORE", "Django"), ("DJANGO_SITE_ID", "3")].into();
        let c = Config::from_vars(|k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.store, StoreKind::Django { site_id: 3 });
        let c = Config::from_vars(|k| (k == "MAINTENANCE_STORE").then(|| "django".into())).unwrap();
        assert_eq!(c.store, StoreKind::Django { site_id: 1 });
        let vars: HashMap<&str, &str> = [
            ("MAINTENANCE_STORE", "nats"),
            ("NATS_URL", "nats://n1:4222,nats://n2:4222"),
            ("MAINTENANCE_NATS_BUCKET", "shop"),
            ("MAINTENANCE_STATE_FILE", "/var/lib/shop/maintenance.json"),
        ]
        .into();
        let c = Config::from_vars(|k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.store, StoreKind::Nats);
        assert_eq!(c.nats_url, "nats://n1:4222,nats://n2:4222");
        assert_eq!(c.nats_bucket, "shop");
        assert_eq!(
            c.state_file.as_deref(),
            Some(std::path::Path::new("/var/lib/shop/maintenance.json"))
        );
        let c = Config::from_vars(|k| (k == "MAINTENANCE_STORE").then(|| "NATS".into())).unwrap();
        assert_eq!(
            (c.nats_url.as_str(), c.nats_bucket.as_str()),
            ("nats://127.0.0.1:4222", "maintenance")
        );
        for (name, value) in [
            ("MAINTENANCE_STORE", "redis"),
            ("DJANGO_SITE_ID", "0"),
            ("DJANGO_SITE_ID", "one"),
        ] {
            let bad = Config::from_vars(|k| (k == name).then(|| value.to_owned())).unwrap_err();
            let text = bad.to_string();
            assert!(text.contains(name) && text.contains(value), "{text}");
        }
    }

    #[test]
    fn redirect_and_refresh_settings() {
        let vars: HashMap<&str, &str> = [
            ("MAINTENANCE_REDIRECT_TO", " https://status.example.com/ "),
            ("MAINTENANCE_REFRESH", "60"),
        ]
        .into();
        let c = Config::from_vars(|k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(
            c.redirect_to.as_deref(),
            Some("https://status.example.com/")
        );
        assert_eq!(c.refresh, Some(Some(Duration::from_secs(60))));
        let policy = c.policy().unwrap();
        assert_eq!(
            policy.redirect().map(|r| r.target()),
            Some("https://status.example.com/")
        );
        assert_eq!(policy.refresh(), Some(Some(Duration::from_secs(60))));
        assert_eq!(policy.ignored_patterns(), IGNORED_PATTERNS);
        let on = Config::from_vars(|k| (k == "MAINTENANCE_REFRESH").then(|| "on".into())).unwrap();
        assert_eq!(on.refresh, Some(None));
        let bad =
            Config::from_vars(|k| (k == "MAINTENANCE_REFRESH").then(|| "soon".into())).unwrap_err();
        assert!(bad.to_string().contains("MAINTENANCE_REFRESH"), "{bad}");
        let c = Config::from_vars(|k| (k == "MAINTENANCE_REDIRECT_TO").then(|| "status".into()))
            .unwrap();
        let err = maintenance_core::ErrorChain(&c.policy().unwrap_err()).to_string();
        assert!(
            err.contains("redirect_to") && err.contains("`status`"),
            "{err}"
        );
    }

    #[test]
    fn unknown_host_and_signing_key_settings() {
        let key = "0123456789abcdef0123456789abcdef-secret";
        let vars: HashMap<&str, &str> =
            [("UNKNOWN_HOST", "strictest"), ("BYPASS_SIGNING_KEY", key)].into();
        let c = Config::from_vars(|k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.unknown_host, UnknownHost::Strictest);
        let policy = c.policy().unwrap();
        assert_eq!(policy.unknown_host(), UnknownHost::Strictest);
        assert_eq!(policy.bypass().signing_key.as_deref(), Some(key.as_bytes()));
        assert!(!format!("{c:?} {policy:?}").contains("secret"));

        let bad = Config::from_vars(|k| (k == "UNKNOWN_HOST").then(|| "any".to_owned()))
            .unwrap_err()
            .to_string();
        assert!(
            bad.contains("UNKNOWN_HOST") && bad.contains("strictest"),
            "{bad}"
        );
        let bad = Config::from_vars(|k| (k == "BYPASS_SIGNING_KEY").then(|| "short".to_owned()))
            .unwrap_err()
            .to_string();
        assert!(
            bad.contains("BYPASS_SIGNING_KEY") && !bad.contains("short"),
            "{bad}"
        );
    }

    #[test]
    fn demo_logins() {
        let s = Sessions::default();
        assert!(s.login("staff", "wrong").is_none());
        let token = s.login("super", "super").unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            format!("a=b; {SESSION_COOKIE}={token}").parse().unwrap(),
        );
        assert_eq!(s.identity(&headers), Identity::Superuser);
        assert_eq!(s.identity(&http::HeaderMap::new()), Identity::Anonymous);
    }

    #[test]
    fn sessions_from_cookie_lines() {
        let s = Sessions::default();
        let token = s.login("staff", "staff").unwrap();
        let line = format!("a=b; {SESSION_COOKIE}={token}");
        assert_eq!(
            s.user_from_cookies(["x=y", line.as_str()]),
            Some(("staff".to_owned(), Identity::Staff))
        );
        assert_eq!(s.identity_from_cookies([line.as_str()]), Identity::Staff);
        assert_eq!(
            s.identity_from_cookies([format!("{SESSION_COOKIE}=forged").as_str()]),
            Identity::Anonymous
        );
        assert_eq!(s.identity_from_cookies([]), Identity::Anonymous);
    }
}
