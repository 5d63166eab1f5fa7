//! The decision: does this request pass, or is it refused for maintenance?
//!
//! [`decide`] is pure: no I/O, no clock (the caller passes `now`), no allocation on the
//! common paths. The order, each step a reason:
//!
//! 1. no snapshot yet: the policy's fail mode;
//! 2. no site for the host and no default site, flag off, or outside the window: allow;
//! 3. a valid bypass link (`<prefix>/<secret>`): set the cookie and redirect;
//!    then, in partial maintenance, a path outside the site's scope: allow;
//! 4. internal network (policy), then the site's allowed networks;
//! 5. superuser; staff unless `block_staff`;
//! 6. ignored path (policy patterns, then the site's);
//! 7. valid bypass cookie or header;
//! 8. read-only mode and a safe method (`GET`, `HEAD`, `OPTIONS`);
//! 9. otherwise block.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::StatusCode;

use crate::bypass::{self, BypassGrant};
use crate::client_ip::{client_ip, in_networks};
use crate::host::{ReadHost, read_host};
use crate::model::{Mode, SiteState};
use crate::pattern::{PatternSet, path_for_matching};
use crate::policy::{FailMode, Policy, UnknownHost};
use crate::request::{AskOnce, Identity, IdentityLookup, RequestView, header_text};
use crate::snapshot::{LiveSite, Snapshot};

/// Why a request was allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AllowReason {
    /// No snapshot could be loaded yet and the fail mode is open.
    NoSnapshot,
    /// No site matches the host and there is no default site.
    NoSite,
    /// The site's maintenance flag is off.
    NotInMaintenance,
    /// The flag is on but the window has not started yet (a banner may announce it).
    Scheduled {
        /// When maintenance starts.
        starts_at: DateTime<Utc>,
    },
    /// The flag is on but the window has ended.
    WindowEnded,
    /// The client is in one of the policy's internal networks.
    InternalNetwork,
    /// The client is in one of the site's allowed networks.
    AllowedNetwork,
    /// The user is a superuser.
    Superuser,
    /// The user is staff and staff are not blocked.
    Staff,
    /// The path matches an ignored pattern.
    IgnoredPath,
    /// The request carries a valid bypass cookie.
    BypassCookie,
    /// The request carries the bypass secret in the bypass header.
    BypassHeader,
    /// The site is read-only and the method is safe.
    ReadOnlySafeMethod,
    /// The site is in partial maintenance and the path is outside its scope.
    OutsideScope,
}

impl AllowReason {
    /// A short stable name for logs and metrics, e.g. `internal_network`.
    pub fn as_str(&self) -> &'static str {
        Self::NAMES[self.index()]
    }

    /// Every reason's name, in the order of [`AllowReason::index`].
    pub(crate) const NAMES: [&'static str; 14] = [
        "no_snapshot",
        "no_site",
        "not_in_maintenance",
        "scheduled",
        "window_ended",
        "internal_network",
        "allowed_network",
        "superuser",
        "staff",
        "ignored_path",
        "bypass_cookie",
        "bypass_header",
        "read_only_safe_method",
        "outside_scope",
    ];

    /// The reason's place in [`AllowReason::NAMES`].
    pub(crate) fn index(&self) -> usize {
        match self {
            AllowReason::NoSnapshot => 0,
            AllowReason::NoSite => 1,
            AllowReason::NotInMaintenance => 2,
            AllowReason::Scheduled { .. } => 3,
            AllowReason::WindowEnded => 4,
            AllowReason::InternalNetwork => 5,
            AllowReason::AllowedNetwork => 6,
            AllowReason::Superuser => 7,
            AllowReason::Staff => 8,
            AllowReason::IgnoredPath => 9,
            AllowReason::BypassCookie => 10,
            AllowReason::BypassHeader => 11,
            AllowReason::ReadOnlySafeMethod => 12,
            AllowReason::OutsideScope => 13,
        }
    }

    /// Whether maintenance is in force for the site and the request passed only through an
    /// exemption (network, identity, path, bypass, read-only).
    pub fn is_exemption(&self) -> bool {
        !matches!(
            self,
            AllowReason::NoSnapshot
                | AllowReason::NoSite
                | AllowReason::NotInMaintenance
                | AllowReason::Scheduled { .. }
                | AllowReason::WindowEnded
                | AllowReason::OutsideScope
        )
    }
}

/// Why a request was blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockReason {
    /// The site is in full maintenance.
    Maintenance,
    /// The site is read-only and the method writes.
    ReadOnly,
    /// No snapshot could be loaded yet and the fail mode is closed.
    NoSnapshot,
}

impl BlockReason {
    /// Every reason's name, in the order of [`BlockReason::index`].
    pub(crate) const NAMES: [&'static str; 3] = ["maintenance", "read_only", "no_snapshot"];

    pub(crate) fn index(&self) -> usize {
        match self {
            BlockReason::Maintenance => 0,
            BlockReason::ReadOnly => 1,
            BlockReason::NoSnapshot => 2,
        }
    }

    /// A short stable name for logs and metrics.
    pub fn as_str(&self) -> &'static str {
        Self::NAMES[self.index()]
    }
}

/// A refusal: what to answer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Block {
    /// The status to answer with (the policy's, 503 by default).
    pub status: StatusCode,
    /// The `Retry-After` seconds, when known.
    pub retry_after: Option<u64>,
    /// Why.
    pub reason: BlockReason,
    /// The site in maintenance (`None` when failing closed without a snapshot).
    pub site: Option<Arc<LiveSite>>,
}

impl Block {
    /// A refusal with `status` for `reason`, no `Retry-After` and no site: for custom answers
    /// and their tests (a [`Maintenance`](crate::Maintenance) handle makes the real ones).
    pub fn new(status: StatusCode, reason: BlockReason) -> Self {
        Block {
            status,
            retry_after: None,
            reason,
            site: None,
        }
    }

    /// The site's state, when there is a site.
    pub fn site_state(&self) -> Option<&SiteState> {
        self.site.as_deref().map(LiveSite::state)
    }

    /// The message for users: the site's, else the policy's default.
    pub fn message<'a>(&'a self, policy: &'a Policy) -> &'a str {
        self.site_state()
            .and_then(|s| s.message.as_deref())
            .filter(|m| !m.trim().is_empty())
            .unwrap_or(policy.default_message())
    }
}

/// The outcome for one request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Decision {
    /// Let the request through.
    Allow(AllowReason),
    /// Refuse it; the handler must not run.
    Block(Block),
    /// A valid bypass link: answer with the cookie and the redirect; the handler must not run.
    Bypass(BypassGrant),
    /// The public status answer ([`crate::status`]): answer with it; the handler must not run.
    Status(crate::status::StatusAnswer),
}

impl Decision {
    /// Whether the request goes on to the handler.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }

    /// A short stable name of the reason, for logs and metrics.
    pub fn reason_str(&self) -> &'static str {
        match self {
            Decision::Allow(r) => r.as_str(),
            Decision::Block(b) => b.reason.as_str(),
            Decision::Bypass(_) => "bypass_link",
            Decision::Status(_) => "status",
        }
    }
}

const SAFE_METHODS: [&str; 3] = ["GET", "HEAD", "OPTIONS"];

/// Decides what to do with `req` made by `identity` at `now`.
///
/// `identity` is an [`Identity`] or a closure that finds it ([`IdentityLookup`]); a closure is
/// called at most once, and only when the decision reaches the identity step.
///
/// ```
/// use chrono::Utc;
/// use maintenance_core::{decide, Decision, AllowReason, Identity, Policy, SiteState, snapshot::Snapshot};
/// let mut site = SiteState::new(1, "example.com");
/// site.is_default = true;
/// site.enabled = true;
/// let snap = Snapshot::new(1, vec![site]);
/// let policy = Policy::default();
/// let req = http::Request::builder().uri("/").body(()).unwrap();
///
/// let d = decide(Some(&snap), &policy, &req, Identity::Anonymous, Utc::now());
/// assert!(matches!(d, Decision::Block(_)));
/// let d = decide(Some(&snap), &policy, &req, Identity::Superuser, Utc::now());
/// assert!(matches!(d, Decision::Allow(AllowReason::Superuser)));
/// ```
pub fn decide<R: RequestView + ?Sized, L: IdentityLookup>(
    snapshot: Option<&Snapshot>,
    policy: &Policy,
    req: &R,
    identity: L,
    now: DateTime<Utc>,
) -> Decision {
    let Some(snapshot) = snapshot else {
        return match policy.fail_mode() {
            FailMode::Open => Decision::Allow(AllowReason::NoSnapshot),
            FailMode::Closed => Decision::Block(Block {
                status: policy.status(),
                retry_after: None,
                reason: BlockReason::NoSnapshot,
                site: None,
            }),
        };
    };
    if snapshot.all_off() {
        // The common case, and the one the layer must cost nothing in: no host lookup.
        return Decision::Allow(AllowReason::NotInMaintenance);
    }
    let raw = req.host();
    // A `Host` line that is not text never reaches `host()`: it is as unreadable as one that
    // is not a plain `host[:port]`.
    let unreadable_line = || req.header_bytes("host").any(|b| header_text(b).is_none());
    let host = match raw.map(read_host) {
        Some(Some(read)) => Some(read),
        Some(None) => None,
        None if unreadable_line() => None,
        None => Some(ReadHost {
            key: Cow::Borrowed(""),
            exact: true,
        }),
    };
    let mut asking = Asking {
        snapshot,
        policy,
        req,
        identity: AskOnce::new(identity),
        now,
    };
    let decision = match &host {
        Some(read) => asking.for_host(read),
        None => asking.strictest(),
    };
    if !matches!(decision, Decision::Allow(_)) {
        return decision;
    }
    // A request may name two authorities (an absolute-form target and a `Host` header, or two
    // `Host` lines). Frameworks disagree on which one they route on, so a request passes only
    // if every site it names lets it pass.
    let Some(host) = host else {
        return decision;
    };
    // The line `host()` answered is text already; only the others need a look.
    if let Some(raw) = raw
        && req
            .header_bytes("host")
            .any(|b| !std::ptr::eq(b, raw.as_bytes()) && header_text(b).is_none())
    {
        return asking.strictest();
    }
    for other in req.other_hosts() {
        let other = match read_host(other) {
            Some(other) if other.key == host.key && other.exact == host.exact => continue,
            Some(other) => asking.for_host(&other),
            None => asking.strictest(),
        };
        if let Decision::Block(_) = other {
            return other;
        }
    }
    decision
}

/// One request being decided past the snapshot check: what every step reads, and the
/// identity, asked at most once whichever sites the request names.
struct Asking<'a, R: ?Sized, L> {
    snapshot: &'a Snapshot,
    policy: &'a Policy,
    req: &'a R,
    identity: AskOnce<L>,
    now: DateTime<Utc>,
}

impl<R: RequestView + ?Sized, L: IdentityLookup> Asking<'_, R, L> {
    /// The decision for a readable host ([`crate::host::host_key`]): its site's, else the
    /// policy's [`UnknownHost`] answer.
    ///
    /// A router that compares names exactly (actix-web's `guard::Host` is case-sensitive; few
    /// routers drop a trailing dot) does not find the site of `SHOP.example.` and serves its
    /// default route. When the name as written differs from its key, the request must also pass
    /// as an unknown host.
    #[inline]
    fn for_host(&mut self, host: &ReadHost<'_>) -> Decision {
        let Some(site) = self.snapshot.site_by_key(&host.key) else {
            return self.unknown_host();
        };
        let decision = self.for_site(site);
        if matches!(decision, Decision::Allow(_)) && !host.exact {
            let as_unknown = self.unknown_host();
            if let Decision::Block(_) = as_unknown {
                return as_unknown;
            }
        }
        decision
    }

    /// The decision as strict as the strictest site: the first site that blocks the request
    /// answers, else the default site.
    fn strictest(&mut self) -> Decision {
        for site in self.snapshot.enabled_sites() {
            let decision = self.for_site(site);
            if let Decision::Block(_) = decision {
                return decision;
            }
        }
        self.for_default_site()
    }

    /// The default site's decision, or `NoSite` when there is none.
    fn for_default_site(&mut self) -> Decision {
        match self.snapshot.default_site() {
            Some(site) => self.for_site(site),
            None => Decision::Allow(AllowReason::NoSite),
        }
    }

    /// The decision for a host that names no site, as the policy's [`UnknownHost`] says.
    fn unknown_host(&mut self) -> Decision {
        if self.policy.unknown_host() == UnknownHost::Strictest {
            return self.strictest();
        }
        self.for_default_site()
    }

    /// The decision for the request on one site.
    fn for_site(&mut self, site: &Arc<LiveSite>) -> Decision {
        let (policy, req, now) = (self.policy, self.req, self.now);
        decide_for_site(site, policy, req, &mut self.identity, now)
    }
}

/// The path with its trailing slash toggled (`a/` and `a`): the other form a router that
/// normalises trailing slashes routes alike. `None` for the root.
fn other_slash_form(relative: &str) -> Option<Cow<'_, str>> {
    match relative.strip_suffix('/') {
        Some(trimmed) => Some(Cow::Borrowed(trimmed)),
        None if relative.is_empty() => None,
        None => Some(Cow::Owned(format!("{relative}/"))),
    }
}

/// Whether the path is outside a scope. Rocket routes `/a/` as `/a`, and so does any
/// application that normalises paths inside the layer, so the path counts as both forms, in
/// the direction that keeps it in maintenance: it is outside only if neither form is in the
/// scope. A path the scope cannot tell about (too long, ambiguous, a search that gave up, a
/// scope pattern left out) is inside.
fn outside_scope(scope: &PatternSet, path: &str) -> bool {
    let Some(path) = path_for_matching(path) else {
        return false;
    };
    scope.matches_prepared(&path) == Some(false)
        && other_slash_form(&path).is_none_or(|other| scope.matches_prepared(&other) == Some(false))
        && scope.is_complete()
}

/// Whether an ignored pattern (the policy's or the site's) exempts the path. When the policy
/// says the router treats trailing slashes alike ([`crate::PolicyBuilder::trailing_slash_insensitive`]),
/// both forms of the path must be exempt, so an exemption never reaches more than its pattern
/// names.
fn ignored_path(policy: &Policy, site: &LiveSite, path: &str) -> bool {
    let Some(path) = path_for_matching(path) else {
        return false;
    };
    let exempt = |p: &str| {
        policy.ignored.matches_prepared(p) == Some(true)
            || site.ignored().matches_prepared(p) == Some(true)
    };
    exempt(&path)
        && (!policy.trailing_slash_insensitive()
            || other_slash_form(&path).is_none_or(|other| exempt(&other)))
}

/// The decision for `req` on one site: the steps after the site is known.
fn decide_for_site<R: RequestView + ?Sized, L: IdentityLookup>(
    site: &Arc<LiveSite>,
    policy: &Policy,
    req: &R,
    identity: &mut AskOnce<L>,
    now: DateTime<Utc>,
) -> Decision {
    let state = site.state();
    if !state.enabled {
        return Decision::Allow(AllowReason::NotInMaintenance);
    }
    if let Some(starts_at) = state.starts_at.filter(|&s| now < s) {
        return Decision::Allow(AllowReason::Scheduled { starts_at });
    }
    if state.ends_at.is_some_and(|e| now >= e) {
        return Decision::Allow(AllowReason::WindowEnded);
    }

    let hash = state.bypass_secret_hash.as_deref();
    let method = req.method();
    if let Some(hash) = hash
        && let Some(grant) = bypass_link(policy, req, method, hash, state.id, now)
    {
        return Decision::Bypass(grant);
    }

    // Partial maintenance: a path outside the scope passes. A path that cannot be matched
    // safely (dot-segments, encoded slashes, too long) is in the scope.
    if !site.scope().is_empty() && outside_scope(site.scope(), req.path()) {
        return Decision::Allow(AllowReason::OutsideScope);
    }

    if let Some(ip) = client_ip(req, policy.trusted_proxies(), policy.client_ip_header()) {
        if in_networks(policy.internal_networks(), ip) {
            return Decision::Allow(AllowReason::InternalNetwork);
        }
        if in_networks(site.networks(), ip) {
            return Decision::Allow(AllowReason::AllowedNetwork);
        }
    }

    match identity.get() {
        Identity::Superuser => return Decision::Allow(AllowReason::Superuser),
        Identity::Staff if !policy.block_staff() => return Decision::Allow(AllowReason::Staff),
        _ => {}
    }

    if (!policy.ignored.is_empty() || !site.ignored().is_empty())
        && ignored_path(policy, site, req.path())
    {
        return Decision::Allow(AllowReason::IgnoredPath);
    }

    if let Some(hash) = hash {
        let settings = policy.bypass();
        if req
            .header(settings.header.as_str())
            .is_some_and(|secret| bypass::secret_matches(secret.trim(), hash))
        {
            return Decision::Allow(AllowReason::BypassHeader);
        }
        if bypass::cookie_value(req, &settings.cookie_name).is_some_and(|value| {
            bypass::verify_cookie(
                settings.signing_key.as_deref(),
                hash,
                state.id,
                value,
                now,
                settings.cookie_ttl,
            )
        }) {
            return Decision::Allow(AllowReason::BypassCookie);
        }
    }

    // Methods are case-sensitive (RFC 9110 §9.1): `get` is an unknown method, not `GET`.
    let safe = SAFE_METHODS.contains(&method);
    if state.mode == Mode::ReadOnly && safe {
        return Decision::Allow(AllowReason::ReadOnlySafeMethod);
    }

    Decision::Block(Block {
        status: policy.status(),
        retry_after: retry_after(state, now),
        reason: match state.mode {
            Mode::Full => BlockReason::Maintenance,
            Mode::ReadOnly => BlockReason::ReadOnly,
        },
        site: Some(Arc::clone(site)),
    })
}

/// The grant for a valid bypass link, `GET <prefix>/<secret>`.
fn bypass_link<R: RequestView + ?Sized>(
    policy: &Policy,
    req: &R,
    method: &str,
    hash: &str,
    site_id: i64,
    now: DateTime<Utc>,
) -> Option<BypassGrant> {
    if method != "GET" {
        return None;
    }
    let settings = policy.bypass();
    let secret = req
        .path()
        .strip_prefix(settings.path_prefix.as_str())?
        .strip_prefix('/')?;
    if secret.is_empty() || secret.contains('/') {
        return None;
    }
    bypass::secret_matches(secret, hash).then(|| BypassGrant::new(settings, hash, site_id, now))
}

/// Seconds until the client should retry: the site's setting, else until the window ends
/// (rounded up, at least 1).
pub fn retry_after(state: &SiteState, now: DateTime<Utc>) -> Option<u64> {
    if let Some(secs) = state.retry_after_secs {
        return Some(u64::from(secs));
    }
    let end = state.ends_at?;
    let millis = (end - now).num_milliseconds();
    if millis <= 0 {
        return None;
    }
    let millis = u64::try_from(millis).ok()?;
    Some(millis.div_ceil(1000).max(1))
}
