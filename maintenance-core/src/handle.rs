//! The live handle: the current snapshot in memory, kept fresh in the background.
//!
//! Requests read the snapshot through an atomic pointer (no lock, no query); a background
//! task reloads it when the source says something changed. If the source fails, the last good
//! snapshot keeps serving and the failure is logged; if nothing was ever loaded, the policy's
//! fail mode decides.
//!
//! The handle only reads: it takes any [`MaintenanceSource`], so a server can run with a
//! database role that may only `SELECT` (and `LISTEN` on PostgreSQL). Writing is the
//! business of a [`crate::MaintenanceStore`], in the CLI or the admin page.
//!
//! Failures are logged once per outage: the first failed load, poll or subscription logs (an
//! error at start-up, a warning later), the ones after it only at debug level, and the first
//! success after them logs that the store is back. A store that is down for an hour and polled
//! every 250 ms thus writes two lines, not fourteen thousand.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use chrono::{DateTime, Utc};
use http::HeaderValue;
use tokio::task::JoinHandle;

use crate::MaintenanceSource;
use crate::answer_cache::AnswerCache;
use crate::decision::{AllowReason, Block, Decision, decide};
use crate::error::StoreError;
use crate::follow::StateFollower;
use crate::policy::{FailMode, Policy};
use crate::request::{IdentityLookup, RequestView};
use crate::response::{BlockedAnswer, answer_format};
use crate::server_override::{self, FileMark, ServerOverride};
use crate::snapshot::{LiveSite, Snapshot};
use crate::state_file::{StateFile, StateFileError};
use crate::status::{SiteStatus, StatusAnswer, window_header};
use crate::store::{ChangeFeed, StoreChanges};
use crate::telemetry::Metrics;

static NEXT_HANDLE_ID: AtomicU64 = AtomicU64::new(0);

struct Inner {
    /// Tells this handle's rendered answers from another's (see [`BlockedAnswer`]).
    id: u64,
    source: Arc<dyn MaintenanceSource>,
    policy: Policy,
    /// The answers to blocks with no site (failing closed with no snapshot).
    siteless_answers: AnswerCache,
    snapshot: ArcSwapOption<Snapshot>,
    reload_lock: tokio::sync::Mutex<()>,
    refresher: Mutex<Option<JoinHandle<()>>>,
    loads: AtomicU64,
    full_loads: AtomicU64,
    failures: AtomicU64,
    /// Whether the last look at the store (the first load, a poll, a reload, a subscription)
    /// failed and was logged: the failures after it are not logged again.
    failing: AtomicBool,
    /// Whether a request was blocked with no peer address while networks could have let it
    /// pass, and that was logged: once per handle.
    warned_no_peer: AtomicBool,
    warned_no_forwarded: AtomicBool,
    metrics: Metrics,
    follower: Arc<StateFollower>,
    /// Where each new snapshot is saved, and read back at a start-up the source cannot serve.
    state_file: OnceLock<StateFile>,
    /// The newest snapshot not saved yet; one write at a time, of the newest.
    unsaved: Arc<Mutex<Option<Arc<Snapshot>>>>,
    saving: Arc<Mutex<()>>,
    /// Whether the server's override is in effect: then decisions read `forced`.
    overriding: AtomicBool,
    /// The snapshot the override in effect makes of the source's.
    forced: ArcSwapOption<Snapshot>,
    /// What the override file said last, and the override in effect.
    override_state: Mutex<OverrideState>,
}

/// The server's override as the handle last saw it.
#[derive(Debug, Default)]
struct OverrideState {
    /// What the override file says (`None`: missing, empty, or no file).
    file: Option<ServerOverride>,
    /// The override in effect: the file's, else the policy's value.
    effective: Option<ServerOverride>,
}

impl Inner {
    /// The snapshot decisions read: the override's while one is in effect, else the source's.
    fn effective(&self) -> arc_swap::Guard<Option<Arc<Snapshot>>> {
        if self.overriding.load(Ordering::Acquire) {
            self.forced.load()
        } else {
            self.snapshot.load()
        }
    }

    fn override_state(&self) -> std::sync::MutexGuard<'_, OverrideState> {
        self.override_state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.refresher.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
    }
}

/// The maintenance state of every site, live. Cheap to clone; share one per process.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use maintenance_core::{Identity, Maintenance, MaintenanceStore, MemoryStore, Policy, SiteRef, StateChange};
///
/// let store = Arc::new(MemoryStore::new());
/// let maintenance = Maintenance::start(store.clone(), Policy::default()).await;
/// let req = http::Request::builder().uri("/").body(()).unwrap();
/// assert!(maintenance.check(&req, Identity::Anonymous).is_allowed());
///
/// store.set_state(&SiteRef::Default, &StateChange::turn_on(), "ops").await.unwrap();
/// maintenance.refresh().await.unwrap(); // the background task would do this within moments
/// assert!(!maintenance.check(&req, Identity::Anonymous).is_allowed());
/// # });
/// ```
#[derive(Clone)]
pub struct Maintenance {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Maintenance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Maintenance")
            .field("revision", &self.revision())
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

impl Maintenance {
    /// A handle with no snapshot yet and no background task: call [`Maintenance::refresh`]
    /// and [`Maintenance::spawn_refresher`] yourself, or use [`Maintenance::start`].
    ///
    /// It takes any source by value and shares it itself: a store (`MemoryStore`, a SQL
    /// store), or an `Arc` of one when the caller keeps writing through it (`Arc<T>` and
    /// `Arc<dyn MaintenanceStore>` are sources too).
    ///
    /// Without a bypass signing key in the policy it logs a warning, once per handle: anyone
    /// who can read the database could then mint bypass cookies.
    #[must_use]
    pub fn new(source: impl MaintenanceSource, policy: Policy) -> Self {
        policy.warn_if_cookies_unsigned();
        let handle = Maintenance {
            inner: Arc::new(Inner {
                id: NEXT_HANDLE_ID.fetch_add(1, Ordering::Relaxed),
                source: Arc::new(source),
                policy,
                siteless_answers: AnswerCache::default(),
                snapshot: ArcSwapOption::empty(),
                reload_lock: tokio::sync::Mutex::new(()),
                refresher: Mutex::new(None),
                loads: AtomicU64::new(0),
                full_loads: AtomicU64::new(0),
                failures: AtomicU64::new(0),
                failing: AtomicBool::new(false),
                warned_no_peer: AtomicBool::new(false),
                warned_no_forwarded: AtomicBool::new(false),
                metrics: Metrics::register(),
                follower: Arc::new(StateFollower::new()),
                state_file: OnceLock::new(),
                unsaved: Arc::new(Mutex::new(None)),
                saving: Arc::new(Mutex::new(())),
                overriding: AtomicBool::new(false),
                forced: ArcSwapOption::empty(),
                override_state: Mutex::new(OverrideState::default()),
            }),
        };
        let file = handle.inner.policy.override_file().map(|path| {
            server_override::read_file(path).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "ignoring the maintenance override file");
                None
            })
        });
        set_override_file(&handle.inner, file.flatten());
        handle
    }

    /// Keeps the last known state in `file`: each new snapshot is saved there, and a start-up
    /// whose source cannot be read serves the state saved last instead of the fail mode (and
    /// says so once), until the source answers. A file of another origin, written in a newer
    /// format or damaged is ignored with a warning; the fail mode applies then.
    ///
    /// Give it before the first load ([`Maintenance::load_and_follow`]); the first file given
    /// stays.
    #[must_use]
    pub fn with_state_file(self, file: StateFile) -> Self {
        if let Err(file) = self.inner.state_file.set(file) {
            tracing::warn!(path = %file.path().display(), "a state file is set already; this one is not used");
        }
        self
    }

    /// Loads the first snapshot and starts the background refresher. Needs a Tokio runtime.
    ///
    /// It takes any source by value, as [`Maintenance::new`] does.
    ///
    /// If the source cannot be read, the failure is logged once and the handle starts anyway,
    /// with no snapshot: the policy's fail mode answers every request until the refresher,
    /// trying again at every poll interval, loads one. How long this first attempt may take is
    /// the source's business (its connect or acquire timeout).
    pub async fn start(source: impl MaintenanceSource, policy: Policy) -> Self {
        let handle = Maintenance::new(source, policy);
        handle.load_and_follow().await;
        handle
    }

    /// What [`Maintenance::start`] does after [`Maintenance::new`]: loads the first snapshot
    /// (a failure is logged once; the fail mode applies until the refresher loads one) and
    /// starts the background refresher. For an application that serves at once, with the fail
    /// mode, and runs this in a task of its own while its database may still be down.
    pub async fn load_and_follow(&self) {
        if let Err(e) = self.refresh().await
            && begin_outage(&self.inner)
            && !self.serve_saved_state_after(&e)
        {
            tracing::error!(error = %crate::ErrorChain(&e), fail_mode = ?self.inner.policy.fail_mode(),
                "could not load maintenance state at start-up; the fail mode applies until the store answers");
        }
        self.spawn_refresher();
    }

    /// While nothing is loaded yet (a start-up that waits for its source): puts the state
    /// file's state in use, if a state file is set and holds one to use, and says so once.
    /// `true` if it did. [`Maintenance::load_and_follow`] does this itself when its first load
    /// fails; a start-up that gives up waiting before that (the database still down while
    /// migrations are retried) calls it.
    pub fn serve_saved_state(&self) -> bool {
        let unreachable = StoreError::backend(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the store has not answered yet",
        ));
        self.serve_saved_state_after(&unreachable)
    }

    /// [`Maintenance::serve_saved_state`] after the source failed with `error`.
    fn serve_saved_state_after(&self, error: &StoreError) -> bool {
        let Some(file) = self.inner.state_file.get() else {
            return false;
        };
        if self.inner.snapshot.load().is_some() {
            return false;
        }
        match file.read() {
            Ok(saved) => {
                tracing::warn!(error = %crate::ErrorChain(error), path = %file.path().display(),
                    revision = saved.revision, saved_at = %saved.saved_at,
                    "could not load maintenance state at start-up; serving the state saved in the state file until the store answers");
                publish_unsaved(&self.inner, Snapshot::new(saved.revision, saved.sites));
                true
            }
            Err(StateFileError::Missing(_)) => false,
            Err(e) => {
                tracing::warn!(error = %crate::ErrorChain(&e), "ignoring the state file");
                false
            }
        }
    }

    /// Decides for `req` now. No I/O, no lock, no allocation on the common paths: safe on every
    /// request. `identity` is an [`Identity`](crate::Identity) or a closure that finds it, called only when the
    /// decision needs it (see [`IdentityLookup`]).
    pub fn check<R: RequestView + ?Sized>(
        &self,
        req: &R,
        identity: impl IdentityLookup,
    ) -> Decision {
        if let Some(status) = self.status_request(req, Utc::now) {
            return status;
        }
        let snapshot = self.inner.effective();
        let decision = if snapshot.as_deref().is_some_and(Snapshot::all_off) {
            // No site is in maintenance: no clock to read, no request to look at.
            Decision::Allow(crate::AllowReason::NotInMaintenance)
        } else {
            decide(
                snapshot.as_deref(),
                &self.inner.policy,
                req,
                identity,
                Utc::now(),
            )
        };
        self.inner.metrics.decided(&decision);
        if let Decision::Block(block) = &decision {
            self.warn_if_networks_cannot_match(block, req);
        }
        decision
    }

    /// Two set-ups turn every internal and allowed network off without a word, and each is
    /// said once, on the first blocked request that a network could have let through (the
    /// blocked path already renders an answer, so the look costs the requests that pass
    /// nothing):
    /// - a server that gives the layer no peer address (axum served without
    ///   `into_make_service_with_connect_info`, a hyper service that inserts none);
    /// - a trusted proxy that does not send the header the policy reads the client from (the
    ///   proxy sets `X-Forwarded-For` while the policy names `X-Real-IP`, or sets none).
    fn warn_if_networks_cannot_match<R: RequestView + ?Sized>(&self, block: &Block, req: &R) {
        let inner = &self.inner;
        if inner.warned_no_peer.load(Ordering::Relaxed)
            && inner.warned_no_forwarded.load(Ordering::Relaxed)
        {
            return;
        }
        let policy = &inner.policy;
        let networks = !policy.internal_networks().is_empty()
            || block
                .site
                .as_deref()
                .is_some_and(|s| !s.networks().is_empty());
        if !networks {
            return;
        }
        match req.peer_addr() {
            None => {
                if !inner.warned_no_peer.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "a request was blocked without a peer address, so internal and allowed networks \
                         cannot match: on axum serve with `into_make_service_with_connect_info::<SocketAddr>()`; \
                         with hyper or tower, put the connection's `SocketAddr` (or a `PeerAddr`) in the \
                         request's extensions; actix-web and rocket give it unless they serve a Unix socket"
                    );
                }
            }
            Some(peer) => {
                let trusted = policy.trusted_proxies();
                if crate::client_ip::in_networks(trusted, peer)
                    && crate::client_ip::client_ip(req, trusted, policy.client_ip_header())
                        .is_none()
                    && !inner.warned_no_forwarded.swap(true, Ordering::Relaxed)
                {
                    let header = policy.client_ip_header().name();
                    tracing::warn!(
                        proxy = %peer,
                        header,
                        "a request from a trusted proxy was blocked without a readable `{header}` header, \
                         so internal and allowed networks cannot match: make the proxy send `{header}` \
                         (nginx: `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;`), or name \
                         the header it sends with `PolicyBuilder::client_ip_header`"
                    );
                }
            }
        }
    }

    /// Decides for `req` at `now` (for tests and replays).
    pub fn check_at<R: RequestView + ?Sized>(
        &self,
        req: &R,
        identity: impl IdentityLookup,
        now: DateTime<Utc>,
    ) -> Decision {
        if let Some(status) = self.status_request(req, || now) {
            return status;
        }
        let snapshot = self.inner.effective();
        decide(snapshot.as_deref(), &self.inner.policy, req, identity, now)
    }

    /// The status answer, when `req` asks for it (`GET` or `HEAD` on the policy's status
    /// path); one comparison of the path otherwise, none when no status path is set.
    fn status_request<R: RequestView + ?Sized>(
        &self,
        req: &R,
        now: impl FnOnce() -> DateTime<Utc>,
    ) -> Option<Decision> {
        let path = self.inner.policy.status_path()?;
        if req.path() != path || !matches!(req.method(), "GET" | "HEAD") {
            return None;
        }
        Some(Decision::Status(self.status_answer(req.host(), now())))
    }

    /// The public status answer for the site serving `host` at `now`, from the snapshot in
    /// memory ([`crate::status`]). Adapters answer it at the policy's status path; a custom
    /// route can answer it anywhere.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use maintenance_core::status::StatusState;
    /// use maintenance_core::{Maintenance, MaintenanceStore, MemoryStore, Policy, SiteRef, StateChange};
    /// let store = std::sync::Arc::new(MemoryStore::new());
    /// store.set_state(&SiteRef::Default, &StateChange::turn_on(), "ops").await.unwrap();
    /// let maintenance = Maintenance::start(store, Policy::default()).await;
    /// let answer = maintenance.status_answer(Some("localhost"), chrono::Utc::now());
    /// assert_eq!(answer.status().state, StatusState::Active);
    /// # });
    /// ```
    pub fn status_answer(&self, host: Option<&str>, now: DateTime<Utc>) -> StatusAnswer {
        let policy = &self.inner.policy;
        let snapshot = self.inner.effective();
        let status = SiteStatus::of(snapshot.as_deref(), host, policy.default_message(), now);
        StatusAnswer::new(status, policy.status_max_age())
    }

    /// The [`WINDOW_HEADER`](crate::status::WINDOW_HEADER) value to add to the response of a
    /// request that passed for `reason`, when the policy announces windows
    /// ([`PolicyBuilder::announce_within`](crate::PolicyBuilder::announce_within)) and the
    /// request's site has one starting within that time. `None` at once for every other
    /// reason: adapters ask on every request that passes.
    pub fn announcement<R: RequestView + ?Sized>(
        &self,
        reason: &AllowReason,
        req: &R,
    ) -> Option<HeaderValue> {
        let AllowReason::Scheduled { starts_at } = *reason else {
            return None;
        };
        let lead = self.inner.policy.announce_within()?;
        let now = Utc::now();
        let lead = chrono::TimeDelta::from_std(lead).unwrap_or(chrono::TimeDelta::MAX);
        if starts_at.signed_duration_since(now) > lead {
            return None;
        }
        let snapshot = self.inner.effective();
        let ends_at = snapshot
            .as_deref()
            .and_then(|s| s.site_for_host(req.host()))
            .and_then(|site| site.state().ends_at);
        Some(window_header(starts_at, ends_at))
    }

    /// The answer to a blocked request in the form `req` asks for ([`crate::response::answer_format`]:
    /// HTML or a redirect, django-maintenancemode-2's JSON, RFC 9457, gRPC), rendered by the policy once per
    /// site state and shared (see [`BlockedAnswer`]).
    pub fn blocked_answer<R: RequestView + ?Sized>(&self, block: &Block, req: &R) -> BlockedAnswer {
        let cache = block
            .site
            .as_deref()
            .map_or(&self.inner.siteless_answers, LiveSite::answers);
        BlockedAnswer::cached(
            cache,
            self.inner.id,
            block,
            &self.inner.policy,
            req,
            answer_format(req),
        )
    }

    /// The response for a blocked request: [`Maintenance::blocked_answer`] as an `http`
    /// response.
    pub fn blocked_response<R: RequestView + ?Sized>(
        &self,
        block: &Block,
        req: &R,
    ) -> http::Response<bytes::Bytes> {
        self.blocked_answer(block, req).into_response()
    }

    /// Whether the site serving `host` (its domain, else the default site) is in maintenance
    /// now: its flag is on and its window, if any, has started and not ended, whatever its
    /// mode. For background jobs and schedulers; no I/O, no lock. With no snapshot loaded yet,
    /// the fail mode answers: `true` when closed.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use maintenance_core::{Maintenance, MaintenanceStore, MemoryStore, Policy, SiteRef, StateChange};
    /// let store = Arc::new(MemoryStore::new());
    /// let maintenance = Maintenance::start(store.clone(), Policy::default()).await;
    /// assert!(!maintenance.is_in_maintenance("example.com"));
    /// store.set_state(&SiteRef::Default, &StateChange::turn_on(), "ops").await.unwrap();
    /// maintenance.refresh().await.unwrap();
    /// assert!(maintenance.is_in_maintenance("example.com"));
    /// # });
    /// ```
    pub fn is_in_maintenance(&self, host: &str) -> bool {
        match self.inner.effective().as_deref() {
            None => self.inner.policy.fail_mode() == FailMode::Closed,
            Some(snapshot) => snapshot
                .site_for_host(Some(host))
                .is_some_and(|site| site.state().is_active_at(Utc::now())),
        }
    }

    /// A receiver that wakes each time the set of sites in maintenance changes (a site turned
    /// on or off, its mode changed, a window started or ended with no write), for background
    /// jobs to pause and resume. Its value counts the changes; after
    /// [`changed`](tokio::sync::watch::Receiver::changed), ask
    /// [`Maintenance::is_in_maintenance`] about the sites the job serves.
    ///
    /// Windows are followed by the background refresher ([`Maintenance::spawn_refresher`],
    /// which [`Maintenance::start`] runs); changes read by [`Maintenance::refresh`] are seen
    /// at once.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use maintenance_core::{Maintenance, MaintenanceStore, MemoryStore, Policy, SiteRef, StateChange};
    /// let store = Arc::new(MemoryStore::new());
    /// let maintenance = Maintenance::start(store.clone(), Policy::default()).await;
    /// let mut changes = maintenance.watch();
    /// store.set_state(&SiteRef::Default, &StateChange::turn_on(), "ops").await.unwrap();
    /// changes.changed().await.unwrap(); // within a poll interval
    /// assert!(maintenance.is_in_maintenance("localhost"));
    /// # });
    /// ```
    pub fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.follower.subscribe()
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The source behind the handle.
    pub fn source(&self) -> &Arc<dyn MaintenanceSource> {
        &self.inner.source
    }

    /// The current snapshot, if one was loaded.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.inner.snapshot.load_full()
    }

    /// The revision of the current snapshot.
    pub fn revision(&self) -> Option<i64> {
        self.inner.snapshot.load().as_ref().map(|s| s.revision())
    }

    /// How many snapshots were loaded, and how many refreshes failed, so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.inner.loads.load(Ordering::Relaxed),
            self.inner.failures.load(Ordering::Relaxed),
        )
    }

    /// How many of the snapshots counted by [`Maintenance::stats`] were read in full (the
    /// first, and each time the source could not say which sites changed); the others were
    /// built from the one before and the sites that changed.
    pub fn full_loads(&self) -> u64 {
        self.inner.full_loads.load(Ordering::Relaxed)
    }

    /// Brings the snapshot up to the source's current state now: only the sites that changed
    /// when the source can tell which, everything otherwise. On error the current snapshot
    /// stays.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        reload(&self.inner).await
    }

    /// Starts the background refresher (once; later calls do nothing). It follows the source's
    /// change feed when it has one, and polls the revision otherwise. Needs a Tokio runtime.
    pub fn spawn_refresher(&self) {
        let mut slot = self
            .inner
            .refresher
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.is_none() {
            let weak = Arc::downgrade(&self.inner);
            let source = Arc::clone(&self.inner.source);
            let policy = self.inner.policy.clone();
            let follower = Arc::clone(&self.inner.follower);
            let windows = follow_windows(weak.clone(), follower);
            let overrides = watch_override_file(
                weak.clone(),
                policy.override_file().map(Path::to_path_buf),
                policy.override_poll(),
            );
            *slot = Some(tokio::spawn(async move {
                tokio::join!(refresh_loop(weak, source, policy), windows, overrides);
            }));
        }
    }
}

/// Brings the snapshot up to the store's revision: only the sites that changed, when the
/// source can tell which ([`MaintenanceSource::changes_since`]); everything otherwise.
async fn reload(inner: &Inner) -> Result<(), StoreError> {
    let _one_at_a_time = inner.reload_lock.lock().await;
    let result = match inner.snapshot.load_full() {
        Some(current) => match inner.source.changes_since(current.revision()).await {
            Ok(Some(changes)) => match incremental(&current, changes) {
                Step::UpToDate => Ok(()),
                Step::Apply(next) => {
                    publish(inner, next);
                    inner.loads.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
                Step::Full => full_load(inner).await,
            },
            Ok(None) => full_load(inner).await,
            // Reading everything may still work (a role that may not read the changes table,
            // a schema not migrated yet); if the store is down, it fails as well.
            Err(e) => {
                tracing::debug!(error = %crate::ErrorChain(&e), "could not read the changes; reading everything");
                full_load(inner).await
            }
        },
        None => full_load(inner).await,
    };
    if result.is_err() {
        count_failure(inner);
    }
    result
}

fn count_failure(inner: &Inner) {
    inner.failures.fetch_add(1, Ordering::Relaxed);
    inner.metrics.store_error();
}

/// Puts `snapshot` in use, tells the gauges and the workers' change stream, and saves it to
/// the state file if there is one.
fn publish(inner: &Inner, snapshot: Snapshot) {
    let snapshot = publish_unsaved(inner, snapshot);
    if let Some(file) = inner.state_file.get() {
        save(inner, file.clone(), snapshot);
    }
}

/// Saves `snapshot` to `file` off the async threads. Writes run one at a time, each of the
/// newest snapshot not saved yet, so the file never goes back to an older state.
fn save(inner: &Inner, file: StateFile, snapshot: Arc<Snapshot>) {
    *inner
        .unsaved
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(snapshot);
    let unsaved = Arc::clone(&inner.unsaved);
    let saving = Arc::clone(&inner.saving);
    tokio::task::spawn_blocking(move || {
        let _one_at_a_time = saving
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let newest = unsaved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(snapshot) = newest
            && let Err(e) = file.write(&snapshot)
        {
            tracing::warn!(error = %crate::ErrorChain(&e), "could not save the maintenance state");
        }
    });
}

/// [`publish`] without saving: the state read back from the state file.
fn publish_unsaved(inner: &Inner, snapshot: Snapshot) -> Arc<Snapshot> {
    inner.metrics.revision(snapshot.revision());
    let snapshot = Arc::new(snapshot);
    // In use before the change stream is told, so that a woken worker reads the new state.
    inner.snapshot.store(Some(Arc::clone(&snapshot)));
    if inner.overriding.load(Ordering::Acquire) {
        apply_override(inner);
    }
    observe(inner);
    snapshot
}

/// Tells the change stream (and the gauge) what is in force now in the snapshot decisions
/// read.
fn observe(inner: &Inner) {
    if let Some(snapshot) = inner.effective().as_deref() {
        let in_force = inner.follower.observe(snapshot, Utc::now());
        inner.metrics.sites_in_maintenance(in_force);
    }
    inner.follower.wake.notify_one();
}

/// Puts in use the snapshot the override in effect makes of the source's, or the source's
/// when none is in effect.
fn apply_override(inner: &Inner) {
    let state = inner.override_state();
    match state.effective {
        Some(forced) => {
            let snapshot = forced.apply(inner.snapshot.load().as_deref());
            inner.forced.store(Some(Arc::new(snapshot)));
            inner.overriding.store(true, Ordering::Release);
        }
        None => {
            inner.overriding.store(false, Ordering::Release);
            inner.forced.store(None);
        }
    }
}

/// Takes what the override file says (`None`: nothing); when the override in effect changes,
/// says so, puts it in use and tells the change stream.
fn set_override_file(inner: &Inner, file: Option<ServerOverride>) {
    let mut state = inner.override_state();
    state.file = file;
    let effective = file.or(inner.policy.server_override());
    if effective == state.effective {
        return;
    }
    let from = match (file, inner.policy.override_file()) {
        (Some(_), Some(path)) => format!("the file {}", path.display()),
        _ => "the policy".to_owned(),
    };
    match effective {
        Some(ServerOverride::On) => tracing::warn!(%from,
            "maintenance override on: this server is in maintenance whatever the store says"),
        Some(ServerOverride::Off) => tracing::warn!(%from,
            "maintenance override off: this server is out of maintenance whatever the store says"),
        None => tracing::warn!("maintenance override lifted: this server follows the store again"),
    }
    state.effective = effective;
    inner.metrics.server_override(effective);
    drop(state);
    apply_override(inner);
    observe(inner);
}

/// Looks at the override file every [`Policy::override_poll`] (its modification time and
/// length; it is read only when they change), while the handle lives. Nothing to do without
/// an override file.
async fn watch_override_file(weak: Weak<Inner>, path: Option<PathBuf>, every: Duration) {
    let Some(path) = path else {
        return;
    };
    // Read at the first look: the file may have changed since the handle was made.
    let mut last = None;
    loop {
        tokio::time::sleep(every).await;
        let Some(inner) = weak.upgrade() else {
            return;
        };
        let seen = server_override::mark(&path);
        if last.as_ref() == Some(&seen) {
            continue;
        }
        last = Some(seen.clone());
        let read = match seen {
            FileMark::Unreadable(e) => Err(e),
            _ => server_override::read_file(&path),
        };
        match read {
            Ok(file) => set_override_file(&inner, file),
            Err(e) => tracing::warn!(path = %path.display(), error = %e,
                "ignoring the maintenance override file; the override stays as it was"),
        }
    }
}

/// The longest the window follower sleeps before it looks again, so a clock that jumped is
/// noticed.
const MAX_WINDOW_SLEEP: std::time::Duration = std::time::Duration::from_secs(600);

/// Wakes at each window's start and end (and after each new snapshot, whose windows may
/// differ) and tells the change stream what is in force then.
async fn follow_windows(weak: Weak<Inner>, follower: Arc<StateFollower>) {
    loop {
        let wait = follower.next_boundary().map_or(MAX_WINDOW_SLEEP, |at| {
            // Just past the boundary: `starts_at` is inclusive and `ends_at` exclusive, so the
            // state has changed by then.
            (at - Utc::now()).to_std().unwrap_or_default() + std::time::Duration::from_millis(1)
        });
        tokio::select! {
            () = follower.wake.notified() => continue,
            () = tokio::time::sleep(wait.min(MAX_WINDOW_SLEEP)) => {}
        }
        let Some(inner) = weak.upgrade() else {
            return;
        };
        if let Some(snapshot) = inner.effective().as_deref() {
            let in_force = follower.observe(snapshot, Utc::now());
            inner.metrics.sites_in_maintenance(in_force);
        }
    }
}

/// What to do with the changes a source gave.
enum Step {
    /// Nothing changed.
    UpToDate,
    /// This snapshot is the store's state.
    Apply(Snapshot),
    /// The changes cannot be trusted to bring the snapshot up to date: read everything.
    Full,
}

/// What `changes` make of `current`. Everything is read again when the store went back to an
/// older revision (restored from a backup), or when its revision moved with no site named (a
/// change written by hand that did not say which site it changed).
fn incremental(current: &Snapshot, changes: StoreChanges) -> Step {
    use std::cmp::Ordering as Cmp;
    match changes.revision.cmp(&current.revision()) {
        Cmp::Less => Step::Full,
        Cmp::Equal => Step::UpToDate,
        Cmp::Greater if changes.changed.is_empty() && changes.removed.is_empty() => Step::Full,
        Cmp::Greater => {
            tracing::debug!(
                revision = changes.revision,
                changed = changes.changed.len(),
                removed = changes.removed.len(),
                "applying maintenance changes"
            );
            Step::Apply(current.apply(changes))
        }
    }
}

async fn full_load(inner: &Inner) -> Result<(), StoreError> {
    let contents = inner.source.load().await?;
    publish(inner, Snapshot::new(contents.revision, contents.sites));
    inner.loads.fetch_add(1, Ordering::Relaxed);
    inner.full_loads.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Reloads when the revision moved (or nothing is loaded yet).
async fn refresh_if_changed(inner: &Inner) -> Result<bool, StoreError> {
    let current = inner.snapshot.load().as_ref().map(|s| s.revision());
    let revision = match inner.source.revision().await {
        Ok(r) => r,
        Err(e) => {
            count_failure(inner);
            return Err(e);
        }
    };
    if current == Some(revision) {
        return Ok(false);
    }
    reload(inner).await.map(|()| true)
}

/// The longest pause between two looks at a store that keeps failing (or the poll interval,
/// if that is longer).
const MAX_OUTAGE_PAUSE: std::time::Duration = std::time::Duration::from_secs(2);

async fn refresh_loop(weak: Weak<Inner>, source: Arc<dyn MaintenanceSource>, policy: Policy) {
    let mut feed: Option<ChangeFeed> = None;
    let mut next_subscribe = tokio::time::Instant::now();
    // While the store fails, the looks at it are spread out and grow, so that servers that
    // lost it together do not all come back to it in the same instant.
    let mut outage = crate::backoff::Backoff::new(
        policy.poll_interval(),
        MAX_OUTAGE_PAUSE.max(policy.poll_interval()),
    );
    let mut failed = false;
    loop {
        let mut just_subscribed = false;
        if feed.is_none() && tokio::time::Instant::now() >= next_subscribe {
            match source.subscribe().await {
                Ok(f) => {
                    just_subscribed = f.is_some();
                    feed = f;
                }
                Err(e) => {
                    let Some(inner) = weak.upgrade() else {
                        return;
                    };
                    inner.metrics.store_error();
                    // Asked again every feed poll interval: logged like any other failure, once
                    // per outage.
                    if begin_outage(&inner) {
                        tracing::warn!(error = %crate::ErrorChain(&e),
                            "could not subscribe to maintenance changes; polling, and trying again");
                    } else {
                        tracing::debug!(error = %crate::ErrorChain(&e), "could not subscribe to maintenance changes");
                    }
                }
            }
            next_subscribe = tokio::time::Instant::now() + policy.feed_poll_interval();
        }
        let wait = if failed {
            outage.pause()
        } else if feed.is_some() {
            policy.feed_poll_interval()
        } else {
            policy.poll_interval()
        };
        let notified = match feed.as_mut() {
            // A change made between the last load and the subscription sent no notice to
            // this feed: look at the revision once before waiting on it.
            Some(_) if just_subscribed => false,
            Some(f) => tokio::select! {
                msg = f.recv() => {
                    if msg.is_none() {
                        tracing::warn!("maintenance change feed closed; polling");
                        feed = None;
                    }
                    true
                }
                () = tokio::time::sleep(wait) => false,
            },
            None => {
                tokio::time::sleep(wait).await;
                false
            }
        };
        let Some(inner) = weak.upgrade() else {
            return;
        };
        let result = if notified {
            reload(&inner).await.map(|()| true)
        } else {
            refresh_if_changed(&inner).await
        };
        failed = result.is_err();
        if !failed {
            outage.reset();
        }
        match result {
            Ok(changed) => {
                if inner.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(
                        revision = inner.snapshot.load().as_ref().map(|s| s.revision()),
                        "maintenance store reachable again; serving its current state"
                    );
                } else if changed {
                    tracing::debug!("maintenance snapshot reloaded");
                }
            }
            Err(e) if begin_outage(&inner) => {
                if inner.snapshot.load().is_some() {
                    tracing::warn!(error = %crate::ErrorChain(&e),
                        "maintenance store unreachable; serving the last known state until it answers");
                } else {
                    tracing::warn!(error = %crate::ErrorChain(&e), fail_mode = ?inner.policy.fail_mode(),
                        "maintenance store unreachable and no state loaded yet; the fail mode applies until it answers");
                }
            }
            Err(e) => {
                tracing::debug!(error = %crate::ErrorChain(&e), "maintenance store still unreachable")
            }
        }
    }
}

/// Marks the store as failing; `true` if this failure starts an outage (and is to be logged).
fn begin_outage(inner: &Inner) -> bool {
    !inner.failing.swap(true, Ordering::Relaxed)
}
