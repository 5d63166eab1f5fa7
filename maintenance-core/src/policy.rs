//! The policy: what the application decides in code (the seed's settings, and ours).
//!
//! The database says *whether* a site is in maintenance; the policy says who still gets
//! through and how the refusal looks. Build it with [`Policy::builder`], which checks every
//! value and names the bad one.

use std::time::Duration;

use http::{HeaderName, StatusCode};
use ipnet::IpNet;

use crate::client_ip::ClientIpHeader;
use crate::error::PolicyError;
use crate::pattern::PatternSet;
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

/// Settings of the bypass secret: the link that sets the cookie, the cookie, the header.
#[derive(Debug, Clone)]
pub struct BypassSettings {
    /// Visiting `<path_prefix>/<secret>` sets the cookie and redirects to `/`.
    pub path_prefix: String,
    /// The cookie's name.
    pub cookie_name: String,
    /// How long the cookie is valid.
    pub cookie_ttl: Duration,
    /// Whether the cookie carries `Secure` (set it when served over HTTPS).
    pub cookie_secure: bool,
    /// The header API clients send the secret in.
    pub header: HeaderName,
    /// The key that signs cookies; `None` signs with the stored secret hash.
    pub signing_key: Option<Vec<u8>>,
}

impl Default for BypassSettings {
    fn default() -> Self {
        BypassSettings {
            path_prefix: "/_maintenance/bypass".to_owned(),
            cookie_name: "maintenance_bypass".to_owned(),
            cookie_ttl: Duration::from_secs(12 * 3600),
            cookie_secure: false,
            header: HeaderName::from_static("x-maintenance-bypass"),
            signing_key: None,
        }
    }
}

/// The default text shown to blocked users (the seed's `error_description`).
pub const DEFAULT_MESSAGE: &str = "Sorry, the service is temporarily down for maintenance";

/// The checked policy. Cheap to share: put it in the [`crate::Maintenance`] handle.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) internal_networks: Vec<IpNet>,
    pub(crate) ignored: PatternSet,
    pub(crate) block_staff: bool,
    pub(crate) trusted_proxies: Vec<IpNet>,
    pub(crate) client_ip_header: ClientIpHeader,
    pub(crate) status: StatusCode,
    pub(crate) fail_mode: FailMode,
    pub(crate) bypass: BypassSettings,
    pub(crate) default_message: String,
    pub(crate) html_template: Option<String>,
    pub(crate) poll_interval: Duration,
    pub(crate) feed_poll_interval: Duration,
}

impl Default for Policy {
    /// The seed's defaults: no internal networks, `^admin` ignored, staff pass, 503.
    fn default() -> Self {
        Policy {
            internal_networks: Vec::new(),
            ignored: PatternSet::compile_strict(["^admin"]).unwrap_or_else(|_| PatternSet::empty()),
            block_staff: false,
            trusted_proxies: Vec::new(),
            client_ip_header: ClientIpHeader::XForwardedFor,
            status: StatusCode::SERVICE_UNAVAILABLE,
            fail_mode: FailMode::Open,
            bypass: BypassSettings::default(),
            default_message: DEFAULT_MESSAGE.to_owned(),
            html_template: None,
            poll_interval: Duration::from_millis(250),
            feed_poll_interval: Duration::from_secs(5),
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
    /// assert!(err.to_string().contains("internal_networks"));
    /// assert!(err.to_string().contains("10.0.0.0/99"));
    /// ```
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::default()
    }

    /// Networks whose clients always pass (the seed's `INTERNAL_IPS`).
    pub fn internal_networks(&self) -> &[IpNet] {
        &self.internal_networks
    }
    /// Patterns ignored on every site (the seed's `MAINTENANCE_ADMIN_IGNORED_URLS`).
    pub fn ignored_patterns(&self) -> &[String] {
        self.ignored.patterns()
    }
    /// Whether staff are blocked too (the seed's `MAINTENANCE_BLOCK_STAFF`).
    pub fn block_staff(&self) -> bool {
        self.block_staff
    }
    /// Proxies whose forwarding header is believed.
    pub fn trusted_proxies(&self) -> &[IpNet] {
        &self.trusted_proxies
    }
    /// The header trusted proxies put the client address in.
    pub fn client_ip_header(&self) -> &ClientIpHeader {
        &self.client_ip_header
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
    /// How often the revision is polled when the store has no change feed.
    pub fn poll_interval(&self) -> Duration {
        self.poll_interval
    }
    /// How often the revision is still polled while a change feed is followed.
    pub fn feed_poll_interval(&self) -> Duration {
        self.feed_poll_interval
    }
}

/// Builds a [`Policy`]; every setter is checked in [`PolicyBuilder::build`].
#[derive(Debug, Clone, Default)]
pub struct PolicyBuilder {
    internal_networks: Vec<String>,
    ignored_patterns: Option<Vec<String>>,
    block_staff: bool,
    trusted_proxies: Vec<String>,
    client_ip_header: Option<String>,
    status: Option<u16>,
    fail_mode: FailMode,
    bypass: BypassSettings,
    bypass_header: Option<String>,
    default_message: Option<String>,
    html_template: Option<String>,
    poll_interval: Option<Duration>,
    feed_poll_interval: Option<Duration>,
}

impl PolicyBuilder {
    /// Adds networks (CIDR or single addresses) whose clients always pass.
    pub fn internal_networks<I, S>(mut self, networks: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.internal_networks
            .extend(networks.into_iter().map(|s| s.as_ref().to_owned()));
        self
    }

    /// Replaces the patterns ignored on every site (default: `^admin`, as the seed).
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
        self.ignored_patterns = Some(
            patterns
                .into_iter()
                .map(|s| s.as_ref().to_owned())
                .collect(),
        );
        self
    }

    /// Blocks staff too; superusers still pass.
    pub fn block_staff(mut self, yes: bool) -> Self {
        self.block_staff = yes;
        self
    }

    /// Adds proxies (CIDR or single addresses) whose forwarding header is believed.
    pub fn trusted_proxies<I, S>(mut self, networks: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.trusted_proxies
            .extend(networks.into_iter().map(|s| s.as_ref().to_owned()));
        self
    }

    /// The header trusted proxies use: `x-forwarded-for` (default), `forwarded`, or any other
    /// header name.
    pub fn client_ip_header(mut self, name: impl Into<String>) -> Self {
        self.client_ip_header = Some(name.into());
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

    /// How long a bypass cookie is valid (default 12 hours).
    pub fn bypass_cookie_ttl(mut self, ttl: Duration) -> Self {
        self.bypass.cookie_ttl = ttl;
        self
    }

    /// Marks the bypass cookie `Secure` (do so when served over HTTPS).
    pub fn bypass_cookie_secure(mut self, secure: bool) -> Self {
        self.bypass.cookie_secure = secure;
        self
    }

    /// The header API clients send the bypass secret in (default `x-maintenance-bypass`).
    pub fn bypass_header(mut self, name: impl Into<String>) -> Self {
        self.bypass_header = Some(name.into());
        self
    }

    /// A key (shared by every server of the site) to sign bypass cookies with. Without one,
    /// cookies are signed with the stored hash of the secret, which anyone who can read the
    /// table also knows.
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
        if bypass.cookie_ttl.is_zero() {
            return Err(PolicyError::Bypass {
                setting: "bypass_cookie_ttl",
                value: "0s".to_owned(),
                expected: "a duration longer than zero",
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
        Ok(Policy {
            internal_networks,
            ignored,
            block_staff: self.block_staff,
            trusted_proxies,
            client_ip_header,
            status,
            fail_mode: self.fail_mode,
            bypass,
            default_message: self.default_message.unwrap_or(defaults.default_message),
            html_template: self.html_template,
            poll_interval: positive("poll_interval", self.poll_interval, defaults.poll_interval)?,
            feed_poll_interval: positive(
                "feed_poll_interval",
                self.feed_poll_interval,
                defaults.feed_poll_interval,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seeds() {
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
                Policy::builder().poll_interval(Duration::ZERO),
                &["poll_interval"],
            ),
        ];
        for (builder, words) in cases {
            let err = builder.build().unwrap_err().to_string();
            for w in words {
                assert!(err.contains(w), "`{err}` should name `{w}`");
            }
        }
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
