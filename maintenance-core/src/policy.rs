//! The policy: what the application decides in code (django-maintenancemode-2's settings, and ours).
//!
//! The database says *whether* a site is in maintenance; the policy says who still gets
//! through and how the refusal looks. Build it with [`Policy::builder`], which checks every
//! value and names the bad one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{HeaderName, HeaderValue, StatusCode};
use ipnet::IpNet;

use crate::bypass::{BypassSettings, MAX_BYPASS_COOKIE_TTL};
use crate::client_ip::ClientIpHeader;
use crate::error::PolicyError;
use crate::pattern::PatternSet;
use crate::server_override::{OverrideSettings, ServerOverride};
use crate::validate;

/// What to do while no snapshot could ever be loaded (the store was down at start-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailMode {
    /// Serve requests as if no site were in maintenance.
    #[default]
    Open,
    /// Block every request as if every site were in maintenance.
    Closed,
}

/// What a request gets when its host names no site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownHost {
    /// The default site's state, as django-maintenancemode-2 does (it knows one site per process). A client
    /// that sends a made-up host is treated like one of the default site: while only another
    /// site is in maintenance, it reaches the application.
    #[default]
    DefaultSite,
    /// The strictest state of all sites: blocked whenever any site is in maintenance (and the
    /// request is not exempt on that site), else the default site's state. Choose it when the
    /// application serves every site from any host name, so that a made-up host must not get
    /// round one site's maintenance.
    Strictest,
}

/// Where browsers are sent instead of the maintenance page ([`PolicyBuilder::redirect_to`]).
#[derive(Debug, Clone)]
pub struct Redirect {
    target: String,
    location: HeaderValue,
    status: StatusCode,
    /// The target's host, when it names one, normalised like a request's.
    host: Option<String>,
    path: String,
}

impl Redirect {
    /// The URL or path browsers are sent to.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The redirect's status (302 by default).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub(crate) fn location(&self) -> &HeaderValue {
        &self.location
    }

    /// Whether `req` asks for the status page itself: it gets the maintenance page rather
    /// than a redirect to where it already is.
    pub(crate) fn is_target_of<R: crate::RequestView + ?Sized>(&self, req: &R) -> bool {
        req.path() == self.path
            && self.host.as_deref().is_none_or(|host| {
                req.host()
                    .is_some_and(|h| crate::host::normalize_host(h) == host)
            })
    }

    fn parse(target: &str, status: u16) -> Result<Self, PolicyError> {
        let bad = |expected: &'static str| PolicyError::Value {
            setting: "redirect_to",
            value: target.to_owned(),
            expected,
        };
        const EXPECTED: &str =
            "an absolute http(s) URL such as https://status.example.com/ or a path such as /status";
        let uri: http::Uri = target.parse().map_err(|_| bad(EXPECTED))?;
        let location = HeaderValue::from_str(target).map_err(|_| bad(EXPECTED))?;
        let host = match (uri.scheme_str(), uri.authority()) {
            (Some("http" | "https"), Some(authority)) => {
                Some(crate::host::normalize_host(authority.host()).into_owned())
            }
            (None, None) if target.starts_with('/') && !target.starts_with("//") => None,
            _ => return Err(bad(EXPECTED)),
        };
        let status = match StatusCode::from_u16(status) {
            Ok(s) if matches!(status, 301 | 302 | 303 | 307 | 308) => s,
            _ => {
                return Err(PolicyError::Value {
                    setting: "redirect_status",
                    value: status.to_string(),
                    expected: "a redirect status: 301, 302, 303, 307 or 308 (302 is usual)",
                });
            }
        };
        Ok(Redirect {
            target: target.to_owned(),
            location,
            status,
            host,
            path: uri.path().to_owned(),
        })
    }
}

/// The default text shown to blocked users (django-maintenancemode-2's `error_description`).
pub const DEFAULT_MESSAGE: &str = "Sorry, the service is temporarily down for maintenance";

/// The checked policy. Cheap to share: put it in the [`crate::Maintenance`] handle.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) internal_networks: Vec<IpNet>,
    pub(crate) ignored: PatternSet,
    pub(crate) block_staff: bool,
    pub(crate) trailing_slash_insensitive: bool,
    pub(crate) trusted_proxies: Vec<IpNet>,
    pub(crate) client_ip_header: ClientIpHeader,
    pub(crate) unknown_host: UnknownHost,
    pub(crate) status: StatusCode,
    pub(crate) fail_mode: FailMode,
    pub(crate) bypass: BypassSettings,
    pub(crate) default_message: String,
    pub(crate) html_template: Option<String>,
    pub(crate) redirect: Option<Redirect>,
    /// `Some` when pages carry `Refresh`; the inner value is used when no `Retry-After` is
    /// known.
    pub(crate) refresh: Option<Option<Duration>>,
    pub(crate) problem_type: String,
    pub(crate) problem_title: Option<String>,
    pub(crate) poll_interval: Duration,
    pub(crate) feed_poll_interval: Duration,
    pub(crate) status_path: Option<String>,
    pub(crate) status_max_age: Duration,
    pub(crate) announce_within: Option<Duration>,
    pub(crate) server_override: OverrideSettings,
    pub(crate) override_poll: Duration,
}

impl Default for Policy {
    /// django-maintenancemode-2's defaults: no internal networks, `^admin` ignored, staff pass, 503.
    fn default() -> Self {
        Policy {
            internal_networks: Vec::new(),
            ignored: PatternSet::compile_strict(["^admin"]).unwrap_or_else(|_| PatternSet::empty()),
            block_staff: false,
            trailing_slash_insensitive: false,
            trusted_proxies: Vec::new(),
            client_ip_header: ClientIpHeader::XForwardedFor,
            unknown_host: UnknownHost::DefaultSite,
            status: StatusCode::SERVICE_UNAVAILABLE,
            fail_mode: FailMode::Open,
            bypass: BypassSettings::default(),
            default_message: DEFAULT_MESSAGE.to_owned(),
            html_template: None,
            redirect: None,
            refresh: None,
            problem_type: "about:blank".to_owned(),
            problem_title: None,
            poll_interval: Duration::from_millis(250),
            feed_poll_interval: Duration::from_secs(5),
            status_path: None,
            status_max_age: DEFAULT_STATUS_MAX_AGE,
            announce_within: None,
            server_override: OverrideSettings::default(),
            override_poll: Duration::from_secs(1),
        }
    }
}

impl Policy {
    /// Starts a builder with the defaults of [`Policy::default`].
    ///
    /// ```
    /// use maintenance_core::Policy;
    /// let policy = Policy::builder()
    ///     .internal_networks(["127.0.0.1", "10.0.0.0/8"])
    ///     .trusted_proxies(["10.0.0.1"])
    ///     .block_staff(true)
    ///     .build()
    ///     .unwrap();
    /// assert!(policy.block_staff());
    ///
    /// let err = Policy::builder().internal_networks(["10.0.0.0/99"]).build().unwrap_err();
    /// let message = maintenance_core::ErrorChain(&err).to_string();
    /// assert!(message.contains("internal_networks"));
    /// assert!(message.contains("10.0.0.0/99"));
    /// ```
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::default()
    }

    /// Networks whose clients always pass (django-maintenancemode-2's `INTERNAL_IPS`).
    pub fn internal_networks(&self) -> &[IpNet] {
        &self.internal_networks
    }
    /// Patterns ignored on every site (django-maintenancemode-2's `MAINTENANCE_ADMIN_IGNORED_URLS`).
    pub fn ignored_patterns(&self) -> &[String] {
        self.ignored.patterns()
    }
    /// Whether staff are blocked too (django-maintenancemode-2's `MAINTENANCE_BLOCK_STAFF`).
    pub fn block_staff(&self) -> bool {
        self.block_staff
    }
    /// Whether the application routes `/a/` and `/a` alike
    /// ([`PolicyBuilder::trailing_slash_insensitive`]).
    pub fn trailing_slash_insensitive(&self) -> bool {
        self.trailing_slash_insensitive
    }
    /// Proxies whose forwarding header is believed.
    pub fn trusted_proxies(&self) -> &[IpNet] {
        &self.trusted_proxies
    }
    /// The header trusted proxies put the client address in.
    pub fn client_ip_header(&self) -> &ClientIpHeader {
        &self.client_ip_header
    }
    /// What a request whose host names no site gets.
    pub fn unknown_host(&self) -> UnknownHost {
        self.unknown_host
    }
    /// The status of blocked responses.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// What happens while no snapshot is loaded.
    pub fn fail_mode(&self) -> FailMode {
        self.fail_mode
    }
    /// The bypass secret settings.
    pub fn bypass(&self) -> &BypassSettings {
        &self.bypass
    }
    /// The message used when a site has none.
    pub fn default_message(&self) -> &str {
        &self.default_message
    }
    /// The HTML template of blocked pages, when replaced.
    pub fn html_template(&self) -> Option<&str> {
        self.html_template.as_deref()
    }
    /// Where browsers are redirected instead of getting the page, when set.
    pub fn redirect(&self) -> Option<&Redirect> {
        self.redirect.as_ref()
    }
    /// Whether pages carry `Refresh` (`Some`), and the delay used when no `Retry-After` is
    /// known (the inner value; with none, such pages do not refresh).
    pub fn refresh(&self) -> Option<Option<Duration>> {
        self.refresh
    }
    /// The `type` of RFC 9457 answers (`about:blank` by default).
    pub fn problem_type(&self) -> &str {
        &self.problem_type
    }
    /// The `title` of RFC 9457 answers, when set (else the status's reason phrase).
    pub fn problem_title(&self) -> Option<&str> {
        self.problem_title.as_deref()
    }
    /// Logs a warning when bypass cookies are signed with the stored secret hash rather than
    /// a server key: anyone who can read the sites table could then mint cookies.
    pub(crate) fn warn_if_cookies_unsigned(&self) {
        if self.bypass.signing_key.is_none() {
            tracing::warn!(
                "no bypass signing key is configured: bypass cookies are signed with the stored \
                 hash of the bypass secret, so anyone who can read the database can mint them; \
                 set one with PolicyBuilder::bypass_signing_key (32 random bytes, the same on \
                 every server)"
            );
        }
    }

    /// How often the revision is polled when the store has no change feed.
    pub fn poll_interval(&self) -> Duration {
        self.poll_interval
    }

    /// The path of the public status answer ([`crate::status`]), if served.
    pub fn status_path(&self) -> Option<&str> {
        self.status_path.as_deref()
    }

    /// How long clients and proxies may cache the status answer.
    pub fn status_max_age(&self) -> Duration {
        self.status_max_age
    }

    /// How long before a window allowed requests announce it ([`crate::status::WINDOW_HEADER`]),
    /// if they do.
    pub fn announce_within(&self) -> Option<Duration> {
        self.announce_within
    }

    /// The server's override given as a value ([`crate::server_override`]), if any.
    pub fn server_override(&self) -> Option<ServerOverride> {
        self.server_override.value
    }

    /// The file the handle reads the server's override from, if any.
    pub fn override_file(&self) -> Option<&Path> {
        self.server_override.file.as_deref()
    }

    /// How often the handle looks at the override file.
    pub fn override_poll(&self) -> Duration {
        self.override_poll
    }

    /// How often the revision is still polled while a change feed is followed.
    pub fn feed_poll_interval(&self) -> Duration {
        self.feed_poll_interval
    }
}

/// How long the status answer may be cached, unless the policy says otherwise.
const DEFAULT_STATUS_MAX_AGE: Duration = Duration::from_secs(5);
/// The longest cache time the status answer may have.
const MAX_STATUS_MAX_AGE: Duration = Duration::from_secs(3600);

/// A status path: absolute, of letters, digits and `/-_.~`, no trailing slash.
fn status_path(path: String) -> Result<String, PolicyError> {
    let trimmed = path.trim();
    let ok = trimmed.starts_with('/')
        && trimmed.len() > 1
        && !trimmed.ends_with('/')
        && !trimmed.contains("//")
        && trimmed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b));
    if ok {
        Ok(trimmed.to_owned())
    } else {
        Err(PolicyError::Value {
            setting: "status_path",
            value: path,
            expected: "a path such as /_maintenance/status (letters, digits, `/-_.~`)",
        })
    }
}

/// Builds a [`Policy`]; every setter is checked in [`PolicyBuilder::build`].
#[derive(Debug, Clone, Default)]
#[must_use = "a PolicyBuilder does nothing until `build` is called"]
pub struct PolicyBuilder {
    internal_networks: Vec<String>,
    ignored_patterns: Option<Vec<String>>,
    block_staff: bool,
    trailing_slash_insensitive: bool,
    trusted_proxies: Vec<String>,
    client_ip_header: Option<String>,
    unknown_host: UnknownHost,
    status: Option<u16>,
    fail_mode: FailMode,
    bypass: BypassSettings,
    bypass_header: Option<String>,
    default_message: Option<String>,
    html_template: Option<String>,
    redirect_to: Option<String>,
    redirect_status: Option<u16>,
    refresh: Option<Option<Duration>>,
    problem: Option<(String, String)>,
    poll_interval: Option<Duration>,
    feed_poll_interval: Option<Duration>,
    status_path: Option<String>,
    status_max_age: Option<Duration>,
    announce_within: Option<Duration>,
    server_override: OverrideSettings,
    override_poll: Option<Duration>,
}

/// The items as owned strings.
fn owned<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> impl Iterator<Item = String> {
    items.into_iter().map(|s| s.as_ref().to_owned())
}

impl PolicyBuilder {
    /// Adds networks (CIDR or single addresses) whose clients always pass.
    pub fn internal_networks<I, S>(mut self, networks: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.internal_networks.extend(owned(networks));
        self
    }

    /// Replaces the patterns ignored on every site (default: `^admin`, as django-maintenancemode-2).
    ///
    /// ```
    /// use maintenance_core::Policy;
    /// let p = Policy::builder().ignored_patterns(["^admin", "^healthz$"]).build().unwrap();
    /// assert_eq!(p.ignored_patterns(), ["^admin", "^healthz$"]);
    /// ```
    pub fn ignored_patterns<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.ignored_patterns = Some(owned(patterns).collect());
        self
    }

    /// Blocks staff too; superusers still pass.
    pub fn block_staff(mut self, yes: bool) -> Self {
        self.block_staff = yes;
        self
    }

    /// Says that the application routes a path with and without its trailing slash alike:
    /// rocket does (`/a/` reaches the route `/a`), and so does an application with a
    /// normalising layer inside the maintenance layer (tower-http's `NormalizePath`, actix's
    /// `NormalizePath`). An ignored pattern then exempts a path only when it matches both
    /// forms (`^ignored-page/?$`), so it never exempts a route it does not name.
    ///
    /// Off by default, which keeps django-maintenancemode-2's meaning: `^ignored-page/$`
    /// exempts `/ignored-page/` only. Scopes of partial maintenance always count a path as
    /// both forms, whatever this says: that direction keeps paths in maintenance.
    ///
    /// ```
    /// use maintenance_core::Policy;
    /// let p = Policy::builder().trailing_slash_insensitive(true).build().unwrap();
    /// assert!(p.trailing_slash_insensitive());
    /// ```
    pub fn trailing_slash_insensitive(mut self, yes: bool) -> Self {
        self.trailing_slash_insensitive = yes;
        self
    }

    /// Adds proxies (CIDR or single addresses) whose forwarding header is believed.
    pub fn trusted_proxies<I, S>(mut self, networks: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.trusted_proxies.extend(owned(networks));
        self
    }

    /// The header trusted proxies use: `x-forwarded-for` (default), `forwarded`, or any other
    /// header name.
    pub fn client_ip_header(mut self, name: impl Into<String>) -> Self {
        self.client_ip_header = Some(name.into());
        self
    }

    /// What a request whose host names no site gets (default [`UnknownHost::DefaultSite`]).
    ///
    /// ```
    /// use maintenance_core::{Policy, UnknownHost};
    /// let p = Policy::builder().unknown_host(UnknownHost::Strictest).build().unwrap();
    /// assert_eq!(p.unknown_host(), UnknownHost::Strictest);
    /// ```
    pub fn unknown_host(mut self, choice: UnknownHost) -> Self {
        self.unknown_host = choice;
        self
    }

    /// The status of blocked responses (default 503).
    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// What to do while no snapshot could be loaded (default [`FailMode::Open`]).
    pub fn fail_mode(mut self, mode: FailMode) -> Self {
        self.fail_mode = mode;
        self
    }

    /// Where the bypass link lives (default `/_maintenance/bypass`).
    pub fn bypass_path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.bypass.path_prefix = prefix.into();
        self
    }

    /// The bypass cookie's name (default `maintenance_bypass`).
    pub fn bypass_cookie_name(mut self, name: impl Into<String>) -> Self {
        self.bypass.cookie_name = name.into();
        self
    }

    /// How long a bypass cookie is valid (default 12 hours, at most
    /// [`MAX_BYPASS_COOKIE_TTL`]).
    pub fn bypass_cookie_ttl(mut self, ttl: Duration) -> Self {
        self.bypass.cookie_ttl = ttl;
        self
    }

    /// Whether the bypass cookie is `Secure` (default yes). Turn it off only to serve the
    /// bypass link over plain HTTP to a host other than `localhost`.
    pub fn bypass_cookie_secure(mut self, secure: bool) -> Self {
        self.bypass.cookie_secure = secure;
        self
    }

    /// The header API clients send the bypass secret in (default `x-maintenance-bypass`).
    pub fn bypass_header(mut self, name: impl Into<String>) -> Self {
        self.bypass_header = Some(name.into());
        self
    }

    /// A key (shared by every server of the site, at least 32 bytes of randomness) to sign
    /// bypass cookies with: the way to run in production. Without one, cookies are signed
    /// with the stored hash of the secret, which anyone who can read the table also knows,
    /// so they could mint cookies; [`crate::Maintenance`] logs that once at start-up.
    pub fn bypass_signing_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.bypass.signing_key = Some(key.into());
        self
    }

    /// The message for sites that have none.
    pub fn default_message(mut self, message: impl Into<String>) -> Self {
        self.default_message = Some(message.into());
        self
    }

    /// Replaces the HTML page. `{{message}}`, `{{retry_after}}` and `{{site}}` are replaced
    /// by the HTML-escaped values.
    pub fn html_template(mut self, template: impl Into<String>) -> Self {
        self.html_template = Some(template.into());
        self
    }

    /// Sends browsers (clients that get HTML; never API or gRPC clients) to a status page
    /// instead of showing them the maintenance page: an absolute `http(s)` URL, or a path on
    /// the same host. A request for that path itself gets the page, so a status page that is
    /// not exempt from maintenance never loops.
    ///
    /// ```
    /// use maintenance_core::Policy;
    /// let p = Policy::builder().redirect_to("https://status.example.com/").build().unwrap();
    /// assert_eq!(p.redirect().unwrap().status(), 302);
    /// assert!(Policy::builder().redirect_to("ftp://x").build().is_err());
    /// ```
    pub fn redirect_to(mut self, target: impl Into<String>) -> Self {
        self.redirect_to = Some(target.into());
        self
    }

    /// The status of the redirect of [`PolicyBuilder::redirect_to`]: 301, 302 (default), 303,
    /// 307 or 308.
    pub fn redirect_status(mut self, status: u16) -> Self {
        self.redirect_status = Some(status);
        self
    }

    /// Adds `Refresh: <seconds>` to maintenance pages, so an open page reloads itself when
    /// `Retry-After` has passed (at least 5 seconds). `fallback` is the delay for sites with
    /// no known `Retry-After`; with `None`, their pages do not reload.
    ///
    /// ```
    /// use std::time::Duration;
    /// use maintenance_core::Policy;
    /// let p = Policy::builder().refresh(Some(Duration::from_secs(60))).build().unwrap();
    /// assert_eq!(p.refresh(), Some(Some(Duration::from_secs(60))));
    /// ```
    pub fn refresh(mut self, fallback: Option<Duration>) -> Self {
        self.refresh = Some(fallback);
        self
    }

    /// The `type` URI and `title` of RFC 9457 answers (default `about:blank` and the status's
    /// reason phrase, `Service Unavailable`).
    pub fn problem_type(mut self, uri: impl Into<String>, title: impl Into<String>) -> Self {
        self.problem = Some((uri.into(), title.into()));
        self
    }

    /// How often the revision is polled when the store has no change feed (default 250 ms).
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = Some(every);
        self
    }

    /// How often the revision is still polled while following a change feed (default 5 s).
    pub fn feed_poll_interval(mut self, every: Duration) -> Self {
        self.feed_poll_interval = Some(every);
        self
    }

    /// Serves the public status answer ([`crate::status`]) at `path` (say
    /// `/_maintenance/status`): `GET` and `HEAD` there answer JSON for the request's site from
    /// memory, never blocked. Off by default.
    ///
    /// ```
    /// use maintenance_core::Policy;
    /// let policy = Policy::builder().status_path("/_maintenance/status").build().unwrap();
    /// assert_eq!(policy.status_path(), Some("/_maintenance/status"));
    /// assert!(Policy::builder().status_path("status").build().is_err());
    /// ```
    pub fn status_path(mut self, path: impl Into<String>) -> Self {
        self.status_path = Some(path.into());
        self
    }

    /// How long the status answer may be cached (`Cache-Control: public, max-age`), in whole
    /// seconds; 5 s by default, at most an hour.
    pub fn status_max_age(mut self, max_age: Duration) -> Self {
        self.status_max_age = Some(max_age);
        self
    }

    /// Adds the [`WINDOW_HEADER`](crate::status::WINDOW_HEADER) to the responses of requests
    /// that pass while their site's window starts within `lead` (a banner's cue). Off by
    /// default.
    ///
    /// ```
    /// use std::time::Duration;
    /// use maintenance_core::Policy;
    /// let policy = Policy::builder().announce_within(Duration::from_secs(3600)).build().unwrap();
    /// assert_eq!(policy.announce_within(), Some(Duration::from_secs(3600)));
    /// ```
    pub fn announce_within(mut self, lead: Duration) -> Self {
        self.announce_within = Some(lead);
        self
    }

    /// Puts this server in maintenance (`Some(On)`) or out of it (`Some(Off)`) whatever the
    /// store says ([`crate::server_override`]); `None` (the default) leaves the store in
    /// charge. An override file that holds `on` or `off` beats it.
    ///
    /// ```
    /// use maintenance_core::Policy;
    /// use maintenance_core::server_override::ServerOverride;
    /// // The application reads it where it likes, e.g. `MAINTENANCE_OVERRIDE=on`.
    /// let value = ServerOverride::parse("on").unwrap();
    /// let policy = Policy::builder().server_override(value).build().unwrap();
    /// assert_eq!(policy.server_override(), Some(ServerOverride::On));
    /// ```
    pub fn server_override(mut self, value: Option<ServerOverride>) -> Self {
        self.server_override.value = value;
        self
    }

    /// Reads the server's override from `path`, which holds `on`, `off`, or nothing (then the
    /// value of [`PolicyBuilder::server_override`], or the store, decides). The handle looks
    /// at the file at start and then every [`PolicyBuilder::override_poll`] (1 s by default);
    /// the file need not exist.
    pub fn override_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.server_override.file = Some(path.into());
        self
    }

    /// How often the handle looks at the override file's modification time (default 1 s).
    pub fn override_poll(mut self, every: Duration) -> Self {
        self.override_poll = Some(every);
        self
    }

    /// Checks everything and builds the policy.
    pub fn build(self) -> Result<Policy, PolicyError> {
        let defaults = Policy::default();
        let networks = |setting: &'static str, list: &[String]| {
            list.iter()
                .map(|s| {
                    validate::network(s).map_err(|source| PolicyError::Invalid { setting, source })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let internal_networks = networks("internal_networks", &self.internal_networks)?;
        let trusted_proxies = networks("trusted_proxies", &self.trusted_proxies)?;
        let ignored =
            match &self.ignored_patterns {
                None => defaults.ignored,
                Some(list) => PatternSet::compile_strict(list.iter().map(String::as_str)).map_err(
                    |source| PolicyError::Invalid {
                        setting: "ignored_patterns",
                        source,
                    },
                )?,
            };
        let header_name = |setting: &'static str, value: &str| {
            HeaderName::from_bytes(value.trim().as_bytes()).map_err(|_| PolicyError::HeaderName {
                setting,
                value: value.to_owned(),
            })
        };
        let client_ip_header = match self.client_ip_header.as_deref() {
            None => ClientIpHeader::XForwardedFor,
            Some(v) => match header_name("client_ip_header", v)?.as_str() {
                "x-forwarded-for" => ClientIpHeader::XForwardedFor,
                "forwarded" => ClientIpHeader::Forwarded,
                _ => ClientIpHeader::Named(header_name("client_ip_header", v)?),
            },
        };
        let status = match self.status {
            None => StatusCode::SERVICE_UNAVAILABLE,
            Some(code) => match StatusCode::from_u16(code) {
                Ok(s) if (400..=599).contains(&code) => s,
                _ => return Err(PolicyError::Status(code)),
            },
        };
        let mut bypass = self.bypass;
        if let Some(h) = &self.bypass_header {
            bypass.header = header_name("bypass_header", h)?;
        }
        let prefix = bypass.path_prefix.trim_end_matches('/').to_owned();
        let prefix_ok = prefix.starts_with('/')
            && prefix.len() > 1
            && prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b));
        if !prefix_ok {
            return Err(PolicyError::Bypass {
                setting: "bypass_path_prefix",
                value: bypass.path_prefix,
                expected: "a path such as /_maintenance/bypass (letters, digits, `/-_.~`)",
            });
        }
        bypass.path_prefix = prefix;
        let cookie_ok = !bypass.cookie_name.is_empty()
            && bypass
                .cookie_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !cookie_ok {
            return Err(PolicyError::Bypass {
                setting: "bypass_cookie_name",
                value: bypass.cookie_name,
                expected: "a cookie name of letters, digits, `-`, `_` or `.`",
            });
        }
        if bypass.cookie_ttl.is_zero() || bypass.cookie_ttl > MAX_BYPASS_COOKIE_TTL {
            return Err(PolicyError::Bypass {
                setting: "bypass_cookie_ttl",
                value: format!("{}s", bypass.cookie_ttl.as_secs()),
                expected: "a duration longer than zero and at most 400 days (34560000s)",
            });
        }
        if bypass.signing_key.as_ref().is_some_and(Vec::is_empty) {
            return Err(PolicyError::Bypass {
                setting: "bypass_signing_key",
                value: "(empty)".to_owned(),
                expected: "a key of at least one byte (32 random bytes recommended)",
            });
        }
        let positive = |setting: &'static str, d: Option<Duration>, default: Duration| match d {
            Some(d) if d.is_zero() => Err(PolicyError::Bypass {
                setting,
                value: "0s".to_owned(),
                expected: "a duration longer than zero",
            }),
            Some(d) => Ok(d),
            None => Ok(default),
        };
        let redirect = match &self.redirect_to {
            Some(target) => Some(Redirect::parse(
                target.trim(),
                self.redirect_status.unwrap_or(302),
            )?),
            None => None,
        };
        if let Some(Some(d)) = self.refresh
            && d.is_zero()
        {
            return Err(PolicyError::Value {
                setting: "refresh",
                value: "0s".to_owned(),
                expected: "a fallback delay longer than zero, or none",
            });
        }
        let (problem_type, problem_title) = match self.problem {
            None => (defaults.problem_type, None),
            Some((uri, title)) => {
                let uri_ok = !uri.is_empty()
                    && uri.parse::<http::Uri>().is_ok_and(|u| u.scheme().is_some())
                    || uri == "about:blank"
                    || uri.starts_with("urn:") && !uri.contains(char::is_whitespace);
                if !uri_ok {
                    return Err(PolicyError::Value {
                        setting: "problem_type",
                        value: uri,
                        expected: "an absolute URI such as https://example.com/problems/maintenance",
                    });
                }
                if title.trim().is_empty() {
                    return Err(PolicyError::Value {
                        setting: "problem_title",
                        value: title,
                        expected: "a short text such as `Down for maintenance`",
                    });
                }
                (uri, Some(title))
            }
        };
        Ok(Policy {
            internal_networks,
            ignored,
            block_staff: self.block_staff,
            trailing_slash_insensitive: self.trailing_slash_insensitive,
            trusted_proxies,
            client_ip_header,
            unknown_host: self.unknown_host,
            status,
            fail_mode: self.fail_mode,
            bypass,
            default_message: self.default_message.unwrap_or(defaults.default_message),
            html_template: self.html_template,
            redirect,
            refresh: self.refresh,
            problem_type,
            problem_title,
            poll_interval: positive("poll_interval", self.poll_interval, defaults.poll_interval)?,
            feed_poll_interval: positive(
                "feed_poll_interval",
                self.feed_poll_interval,
                defaults.feed_poll_interval,
            )?,
            status_path: match self.status_path {
                Some(path) => Some(status_path(path)?),
                None => None,
            },
            status_max_age: match self.status_max_age {
                Some(age) if age > MAX_STATUS_MAX_AGE => {
                    return Err(PolicyError::Value {
                        setting: "status_max_age",
                        value: format!("{}s", age.as_secs()),
                        expected: "at most an hour (3600s)",
                    });
                }
                Some(age) => age,
                None => DEFAULT_STATUS_MAX_AGE,
            },
            override_poll: positive("override_poll", self.override_poll, defaults.override_poll)?,
            server_override: match self.server_override.file {
                Some(path) if path.as_os_str().is_empty() => {
                    return Err(PolicyError::Value {
                        setting: "override_file",
                        value: String::new(),
                        expected: "the path of a file (which need not exist yet)",
                    });
                }
                _ => self.server_override,
            },
            announce_within: match self.announce_within {
                Some(lead) if lead.is_zero() => {
                    return Err(PolicyError::Value {
                        setting: "announce_within",
                        value: "0s".to_owned(),
                        expected: "a duration longer than zero",
                    });
                }
                lead => lead,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_django_maintenancemodes() {
        let p = Policy::default();
        assert_eq!(p.ignored_patterns(), ["^admin"]);
        assert!(!p.block_staff());
        assert_eq!(p.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(p.fail_mode(), FailMode::Open);
        assert!(p.internal_networks().is_empty());
    }

    #[test]
    fn bad_settings_are_named() {
        let cases: Vec<(PolicyBuilder, &[&str])> = vec![
            (
                Policy::builder().internal_networks(["1.2.3"]),
                &["internal_networks", "1.2.3"],
            ),
            (
                Policy::builder().trusted_proxies(["nope"]),
                &["trusted_proxies", "nope"],
            ),
            (
                Policy::builder().ignored_patterns(["^(x"]),
                &["ignored_patterns", "^(x"],
            ),
            (Policy::builder().status(200), &["status", "200"]),
            (Policy::builder().status(1000), &["status", "1000"]),
            (
                Policy::builder().client_ip_header("bad header"),
                &["client_ip_header", "bad header"],
            ),
            (
                Policy::builder().bypass_header("x y"),
                &["bypass_header", "x y"],
            ),
            (
                Policy::builder().bypass_path_prefix("nope"),
                &["bypass_path_prefix", "nope"],
            ),
            (
                Policy::builder().bypass_path_prefix("/"),
                &["bypass_path_prefix"],
            ),
            (
                Policy::builder().bypass_cookie_name("a b"),
                &["bypass_cookie_name", "a b"],
            ),
            (
                Policy::builder().bypass_cookie_ttl(Duration::ZERO),
                &["bypass_cookie_ttl"],
            ),
            (
                Policy::builder().bypass_cookie_ttl(Duration::from_secs(400 * 24 * 3600 + 1)),
                &["bypass_cookie_ttl", "34560001s", "400 days"],
            ),
            (
                Policy::builder().bypass_cookie_ttl(Duration::MAX),
                &["bypass_cookie_ttl"],
            ),
            (
                Policy::builder().bypass_signing_key(Vec::new()),
                &["bypass_signing_key"],
            ),
            (
                Policy::builder().internal_networks(["::ffff:10.0.0.0/8"]),
                &["internal_networks", "::ffff:10.0.0.0/8", "96"],
            ),
            (
                Policy::builder().poll_interval(Duration::ZERO),
                &["poll_interval"],
            ),
            // The blocked answer's settings.
            (
                Policy::builder().redirect_to("ftp://x/"),
                &["redirect_to", "ftp://x/"],
            ),
            (
                Policy::builder().redirect_to("status"),
                &["redirect_to", "status"],
            ),
            (
                Policy::builder().redirect_to("//evil.example"),
                &["redirect_to"],
            ),
            (
                Policy::builder().redirect_to("/s").redirect_status(200),
                &["redirect_status", "200"],
            ),
            (
                Policy::builder().refresh(Some(Duration::ZERO)),
                &["refresh"],
            ),
            (
                Policy::builder().problem_type("not a uri", "x"),
                &["problem_type", "not a uri"],
            ),
            (
                Policy::builder().problem_type("urn:x:y", " "),
                &["problem_title"],
            ),
        ];
        for (builder, words) in cases {
            let err = builder.build().unwrap_err();
            let err = crate::ErrorChain(&err).to_string();
            for w in words {
                assert!(err.contains(w), "`{err}` should name `{w}`");
            }
        }
    }

    #[test]
    fn mapped_networks_are_normalised() {
        let p = Policy::builder()
            .internal_networks(["::ffff:10.0.0.0/104", "::ffff:192.0.2.7"])
            .trusted_proxies(["::ffff:127.0.0.1"])
            .build()
            .unwrap();
        let shown: Vec<String> = p
            .internal_networks()
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(shown, ["10.0.0.0/8", "192.0.2.7/32"]);
        assert_eq!(p.trusted_proxies()[0].to_string(), "127.0.0.1/32");
    }

    #[test]
    fn debug_never_shows_the_signing_key() {
        let p = Policy::builder()
            .bypass_signing_key(b"super-secret-signing-key".to_vec())
            .build()
            .unwrap();
        let shown = format!("{p:?} {:?}", p.bypass());
        assert!(!shown.contains("super-secret"), "{shown}");
        assert!(!shown.contains("115, 117, 112"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    /// Lines written through `tracing` while `f` runs.
    fn logged(f: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn a_handle_without_signing_key_warns_once_at_start() {
        let store = std::sync::Arc::new(crate::MemoryStore::new());
        let out = logged(|| {
            let _m = crate::Maintenance::new(store.clone(), Policy::default());
        });
        assert_eq!(out.matches("no bypass signing key").count(), 1, "{out}");
        let keyed = Policy::builder()
            .bypass_signing_key(b"0123456789abcdef0123456789abcdef".to_vec())
            .build()
            .unwrap();
        let out = logged(|| {
            let _m = crate::Maintenance::new(store.clone(), keyed);
        });
        assert!(!out.contains("signing key"), "{out}");
    }

    /// A handle on a memory store whose default site is in maintenance, loaded.
    fn handle_in_maintenance(policy: Policy) -> crate::Maintenance {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // The handle has no refresher: it outlives the runtime that loaded it.
        runtime
            .block_on(crate::testkit::memory_handle(true, policy))
            .0
    }

    /// What `maintenance` logs while it checks `requests`, each of which it must block.
    fn logged_blocking<'a>(
        maintenance: &crate::Maintenance,
        requests: impl IntoIterator<Item = &'a http::Request<()>>,
    ) -> String {
        logged(|| {
            for req in requests {
                let d = maintenance.check(req, crate::Identity::Anonymous);
                assert!(matches!(d, crate::Decision::Block(_)), "{d:?}");
            }
        })
    }

    /// A request for `/` from `peer`, with `header` when given.
    fn from_peer(peer: [u8; 4], header: Option<(&str, &str)>) -> http::Request<()> {
        let mut req = http::Request::builder().uri("/");
        if let Some((name, value)) = header {
            req = req.header(name, value);
        }
        let mut req = req.body(()).unwrap();
        req.extensions_mut()
            .insert(crate::adapter::PeerAddr(peer.into()));
        req
    }

    /// Blocked requests without a peer address while internal networks are set: one warning
    /// naming the fix, however many requests; none when no network could have matched.
    #[test]
    fn a_blocked_request_without_a_peer_address_warns_once() {
        let without_peer = http::Request::builder().uri("/").body(()).unwrap();
        let with_peer = from_peer([203, 0, 113, 9], None);
        let networks = handle_in_maintenance(crate::testkit::internal_test_net_policy());
        let out = logged_blocking(&networks, [&without_peer; 3]);
        assert_eq!(out.matches("without a peer address").count(), 1, "{out}");
        assert!(out.contains("into_make_service_with_connect_info"), "{out}");
        let peer_known = handle_in_maintenance(crate::testkit::internal_test_net_policy());
        let out = logged(|| {
            let _ = peer_known.check(&with_peer, crate::Identity::Anonymous);
        });
        assert!(!out.contains("peer address"), "{out}");
        let no_networks = handle_in_maintenance(Policy::default());
        let out = logged(|| {
            let _ = no_networks.check(&without_peer, crate::Identity::Anonymous);
        });
        assert!(!out.contains("peer address"), "{out}");
    }

    /// Blocked requests from a trusted proxy that sends no readable client header while
    /// networks are set: one warning naming the header and the fix; none when the header is
    /// there, or when the peer is not a trusted proxy.
    #[test]
    fn a_trusted_proxy_without_the_client_header_warns_once() {
        let handle = || {
            handle_in_maintenance(
                Policy::builder()
                    .internal_networks(["192.0.2.0/24"])
                    .trusted_proxies(["10.0.0.0/8"])
                    .client_ip_header("x-real-ip")
                    .build()
                    .unwrap(),
            )
        };
        let proxy_sends_xff = from_peer([10, 0, 0, 2], Some(("x-forwarded-for", "203.0.113.9")));
        let out = logged_blocking(&handle(), [&proxy_sends_xff; 3]);
        assert_eq!(
            out.matches("without a readable `x-real-ip` header").count(),
            1,
            "{out}"
        );
        assert!(out.contains("PolicyBuilder::client_ip_header"), "{out}");
        let proxy_sends_it = from_peer([10, 0, 0, 2], Some(("x-real-ip", "203.0.113.9")));
        let direct = from_peer([203, 0, 113, 7], None);
        let out = logged_blocking(&handle(), [&proxy_sends_it, &direct]);
        assert!(!out.contains("readable"), "{out}");
    }

    #[test]
    fn bypass_cookie_is_secure_by_default() {
        assert!(Policy::default().bypass().cookie_secure);
    }

    #[test]
    fn header_choices() {
        let p = Policy::builder()
            .client_ip_header("Forwarded")
            .build()
            .unwrap();
        assert_eq!(p.client_ip_header(), &ClientIpHeader::Forwarded);
        let p = Policy::builder()
            .client_ip_header("X-Real-IP")
            .build()
            .unwrap();
        assert_eq!(
            p.client_ip_header(),
            &ClientIpHeader::Named(HeaderName::from_static("x-real-ip"))
        );
    }

    #[test]
    fn trailing_slash_of_prefix_is_dropped() {
        let p = Policy::builder()
            .bypass_path_prefix("/let-me-in/")
            .build()
            .unwrap();
        assert_eq!(p.bypass().path_prefix, "/let-me-in");
    }
}
