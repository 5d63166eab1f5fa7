//! Which `Host` and `Origin` values are this admin page, against DNS rebinding.
//!
//! A page on `evil.example` can make its name resolve to 127.0.0.1 and then talk to the admin
//! page as if it were its own origin: the browser sends `Host: evil.example:8085`. So a request
//! is answered only when its host is, exactly (ignoring ASCII case):
//!
//! - the listen address, e.g. `127.0.0.1:8085` or `[::1]:8085`;
//! - a loopback name with the listen port: `localhost:8085`, `127.0.0.1:8085`, `[::1]:8085`;
//! - a configured public origin's host, e.g. `ops.example.com` for `https://ops.example.com`.
//!
//! A port may be left out only where a browser leaves it out: when it is the scheme's default
//! (80 for the page's own plain HTTP, 443 for an `https://` public origin). No other spelling
//! (`127.1`, a trailing dot, another port) is accepted. A POST's `Origin`, when sent, must be
//! one of the same origins.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, Uri, header};
use maintenance_core::host::validate_domain;

use super::access::client_text;
use crate::admin::AdminState;
use crate::admin::respond::plain;

/// The loopback names accepted with the listen port.
const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// The longest host shown back in a refusal; longer ones are cut.
const MAX_SHOWN: usize = 100;

/// Why a public origin given at start-up is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// Not `http://` or `https://`.
    #[error(
        "invalid public origin `{value}`: expected http:// or https:// and a host, such as \
         https://ops.example.com"
    )]
    Scheme {
        /// The value given.
        value: String,
    },
    /// A path, query, fragment or user name besides the scheme, host and port.
    #[error(
        "invalid public origin `{value}`: {why}; expected only a scheme, a host and an optional \
         port, such as https://ops.example.com or http://10.0.0.5:8085"
    )]
    Shape {
        /// The value given.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A host that is not a DNS name or an IP address.
    #[error(
        "invalid public origin `{value}`: invalid host `{host}`: expected a DNS name (non-ASCII \
         names in their xn-- form), an IPv4 address or an IPv6 address in brackets"
    )]
    Host {
        /// The value given.
        value: String,
        /// Its host.
        host: String,
    },
    /// A port that is not a number from 1 to 65535.
    #[error("invalid public origin `{value}`: invalid port `{port}`: expected 1 to 65535")]
    Port {
        /// The value given.
        value: String,
        /// Its port.
        port: String,
    },
}

/// The scheme of a public origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// An origin the admin page is reached at besides its listen address, e.g.
/// `https://ops.example.com` behind a TLS reverse proxy (`--public-origin`).
///
/// ```
/// use maintenance_cli::admin::PublicOrigin;
/// let o: PublicOrigin = "HTTPS://Ops.Example.com/".parse().unwrap();
/// assert_eq!(o.to_string(), "https://ops.example.com");
/// assert_eq!(o.host_values(), ["ops.example.com:443", "ops.example.com"]);
/// assert!("ops.example.com".parse::<PublicOrigin>().is_err());
/// assert!("https://ops.example.com/admin".parse::<PublicOrigin>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicOrigin {
    scheme: Scheme,
    /// Lowercase; an IPv6 address in brackets.
    host: String,
    /// Given, or the scheme's default.
    port: u16,
}

impl PublicOrigin {
    /// The `Host` values that name this origin: `host:port`, and `host` alone when the port is
    /// the scheme's default (as browsers send it).
    pub fn host_values(&self) -> Vec<String> {
        forms(&self.host, self.port, self.scheme.default_port())
    }
}

impl fmt::Display for PublicOrigin {
    /// The origin as a browser sends it in `Origin`: the default port left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.host)?;
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

impl FromStr for PublicOrigin {
    type Err = OriginError;

    fn from_str(value: &str) -> Result<PublicOrigin, OriginError> {
        let given = value.trim();
        let shape = |why| OriginError::Shape {
            value: given.to_owned(),
            why,
        };
        let (scheme, rest) = given.split_once("://").ok_or_else(|| OriginError::Scheme {
            value: given.to_owned(),
        })?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            _ => {
                return Err(OriginError::Scheme {
                    value: given.to_owned(),
                });
            }
        };
        // One trailing slash is how origins are often written; anything after it is a path.
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err(shape("it has a path, query or fragment"));
        }
        if rest.contains('@') {
            return Err(shape("it has a user name"));
        }
        let bad_host = |host: &str| OriginError::Host {
            value: given.to_owned(),
            host: host.to_owned(),
        };
        let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
            let (addr, after) = inner.split_once(']').ok_or_else(|| bad_host(rest))?;
            let addr = Ipv6Addr::from_str(addr).map_err(|_| bad_host(rest))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| bad_host(rest))?),
            };
            (format!("[{addr}]"), port)
        } else {
            let (host, port) = match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            };
            if !valid_name(host) {
                return Err(bad_host(host));
            }
            (host.to_ascii_lowercase(), port)
        };
        let port = match port {
            None => scheme.default_port(),
            // Digits only: `u16::from_str` would also take a sign.
            Some(p) => p
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| p.parse::<u16>().ok())
                .flatten()
                .filter(|n| *n != 0)
                .ok_or_else(|| OriginError::Port {
                    value: given.to_owned(),
                    port: p.to_owned(),
                })?,
        };
        Ok(PublicOrigin { scheme, host, port })
    }
}

/// Whether `host` is a DNS name of letters, digits and hyphens, or a dotted-quad IPv4 address:
/// a site domain as [`validate_domain`] takes it, written exactly as it normalises (no trailing
/// dot), without the underscore site domains may have. A name whose last label is all digits
/// must be an IPv4 address: `127.1` and `2130706433` are other spellings of 127.0.0.1 that a
/// browser would rewrite.
fn valid_name(host: &str) -> bool {
    let numeric_end = host
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    validate_domain(host).is_ok_and(|domain| domain.eq_ignore_ascii_case(host))
        && !host.contains('_')
        && (!numeric_end || Ipv4Addr::from_str(host).is_ok())
}

/// `host:port`, and `host` alone when `port` is `default`.
fn forms(host: &str, port: u16, default: u16) -> Vec<String> {
    let mut out = vec![format!("{host}:{port}")];
    if port == default {
        out.push(host.to_owned());
    }
    out
}

/// Why a request's host is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostRefusal {
    /// No `Host` header (and no host in the request line).
    Missing,
    /// More than one `Host` header.
    Several,
    /// A `Host` header with bytes that are not visible ASCII (no host name has them).
    Unreadable,
    /// A host that is not this page's; shown as received (cut when long).
    Other(String),
}

impl HostRefusal {
    /// The status to answer with: 421 Misdirected Request for another host, 400 otherwise.
    pub(crate) fn status(&self) -> http::StatusCode {
        match self {
            HostRefusal::Other(_) => http::StatusCode::MISDIRECTED_REQUEST,
            HostRefusal::Missing | HostRefusal::Several | HostRefusal::Unreadable => {
                http::StatusCode::BAD_REQUEST
            }
        }
    }

    /// A short message for the client: the refused host and how to allow it. It does not list
    /// the allowed names (a rebinding page could read them).
    pub(crate) fn message(&self) -> String {
        match self {
            HostRefusal::Missing => "Refused: the request has no Host header; this admin page \
                answers only to its own names (see --public-origin).\n"
                .to_owned(),
            HostRefusal::Several => "Refused: the request has several Host headers.\n".to_owned(),
            HostRefusal::Unreadable => {
                "Refused: the Host header is not visible ASCII.\n".to_owned()
            }
            HostRefusal::Other(host) => format!(
                "Refused Host `{host}`: not a name of this admin page. To allow it, start the \
                 page with --public-origin https://{host} (or http://, as the browser sees it; \
                 also MAINTENANCE_ADMIN_PUBLIC_ORIGIN).\n"
            ),
        }
    }
}

/// The hosts and origins of one admin page: its listen address, the loopback names with its
/// port, and its public origins.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    /// Accepted `Host` values, lowercase.
    hosts: Vec<String>,
    /// Accepted `Origin` values, lowercase.
    origins: Vec<String>,
    public: Vec<PublicOrigin>,
}

impl AllowedHosts {
    /// The hosts of a page listening on `listen` (the bound address, with its real port) and
    /// reached at `public` origins too.
    ///
    /// ```
    /// use maintenance_cli::admin::AllowedHosts;
    /// let hosts = AllowedHosts::new(
    ///     "127.0.0.1:8085".parse().unwrap(),
    ///     vec!["https://ops.example.com".parse().unwrap()],
    /// );
    /// assert!(hosts.allows_host("localhost:8085"));
    /// assert!(hosts.allows_host("ops.example.com"));
    /// assert!(!hosts.allows_host("localhost"));
    /// assert!(!hosts.allows_host("evil.example:8085"));
    /// assert!(hosts.allows_origin("https://ops.example.com"));
    /// assert!(!hosts.allows_origin("http://ops.example.com"));
    /// ```
    pub fn new(listen: SocketAddr, public: Vec<PublicOrigin>) -> AllowedHosts {
        let port = listen.port();
        let mut names: Vec<String> = LOOPBACK_NAMES.iter().map(|n| (*n).to_owned()).collect();
        // The listen address itself: `SocketAddr` prints an IPv6 address in brackets, as in a
        // `Host` header. A scope id (`%2`) cannot appear in one, so such an address only
        // matches by its loopback name or a public origin.
        let ip = match listen {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        };
        names.push(ip);
        let mut hosts = Vec::new();
        let mut origins = Vec::new();
        for name in &names {
            hosts.extend(forms(name, port, 80));
            origins.push(if port == 80 {
                format!("http://{name}")
            } else {
                format!("http://{name}:{port}")
            });
        }
        for o in &public {
            hosts.extend(o.host_values());
            origins.push(o.to_string());
        }
        hosts.sort();
        hosts.dedup();
        origins.sort();
        origins.dedup();
        AllowedHosts {
            hosts,
            origins,
            public,
        }
    }

    /// The public origins given.
    pub fn public_origins(&self) -> &[PublicOrigin] {
        &self.public
    }

    /// Whether `host` (a `Host` value) is this page's.
    pub fn allows_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Whether `origin` (an `Origin` value) is this page's.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// Checks a request's host: its one `Host` header and, when the request line names a host
    /// (absolute form, or HTTP/2's `:authority`), that one too.
    pub(crate) fn check(&self, headers: &HeaderMap, uri: &Uri) -> Result<(), HostRefusal> {
        let mut values = headers.get_all(header::HOST).iter();
        let host = values.next();
        if values.next().is_some() {
            return Err(HostRefusal::Several);
        }
        let authority = uri.authority().map(|a| a.as_str());
        if host.is_none() && authority.is_none() {
            return Err(HostRefusal::Missing);
        }
        if let Some(host) = host {
            match host.to_str() {
                Ok(h) if self.allows_host(h) => {}
                Ok(h) => return Err(HostRefusal::Other(shown(h))),
                Err(_) => return Err(HostRefusal::Unreadable),
            }
        }
        match authority {
            Some(a) if !self.allows_host(a) => Err(HostRefusal::Other(shown(a))),
            _ => Ok(()),
        }
    }
}

/// `host` cut to [`MAX_SHOWN`] characters, for messages and logs.
fn shown(host: &str) -> String {
    match host.char_indices().nth(MAX_SHOWN) {
        Some((at, _)) => format!("{}...", &host[..at]),
        None => host.to_owned(),
    }
}

/// The layer's check: a request whose host is not the page's is refused (421) before any
/// handler runs, and logged with the client's address.
pub(crate) async fn check_host(
    State(app): State<Arc<AdminState>>,
    req: Request,
    next: Next,
) -> Response {
    match app.hosts.check(req.headers(), req.uri()) {
        Ok(()) => next.run(req).await,
        Err(refusal) => {
            let host = match &refusal {
                HostRefusal::Other(h) => h.as_str(),
                HostRefusal::Missing => "(none)",
                HostRefusal::Several => "(several)",
                HostRefusal::Unreadable => "(not visible ASCII)",
            };
            let (parts, _) = req.into_parts();
            tracing::warn!(
                client = %client_text(app.client_ip(&parts)),
                host,
                "admin request refused: its Host is not this page's (add it with --public-origin \
                 if it is)"
            );
            plain(refusal.status(), refusal.message())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(s: &str) -> Result<PublicOrigin, OriginError> {
        s.parse()
    }

    #[test]
    fn public_origins_are_scheme_host_and_port() {
        let o = origin("https://ops.example.com").unwrap();
        assert_eq!(o.to_string(), "https://ops.example.com");
        assert_eq!(o.host_values(), ["ops.example.com:443", "ops.example.com"]);
        let o = origin(" http://Admin.Example.com:8443/ ").unwrap();
        assert_eq!(o.to_string(), "http://admin.example.com:8443");
        assert_eq!(o.host_values(), ["admin.example.com:8443"]);
        let o = origin("https://ops.example.com:443").unwrap();
        assert_eq!(o.to_string(), "https://ops.example.com");
        let o = origin("http://10.0.0.5:8085").unwrap();
        assert_eq!(o.host_values(), ["10.0.0.5:8085"]);
        let o = origin("https://[2001:DB8::1]").unwrap();
        assert_eq!(o.to_string(), "https://[2001:db8::1]");
        assert_eq!(o.host_values(), ["[2001:db8::1]:443", "[2001:db8::1]"]);
    }

    #[test]
    fn bad_public_origins_are_named() {
        for (bad, want) in [
            ("", "invalid public origin ``: expected http:// or https://"),
            ("ops.example.com", "`ops.example.com`: expected http://"),
            (
                "ftp://ops.example.com",
                "`ftp://ops.example.com`: expected http://",
            ),
            ("https://ops.example.com/admin", "it has a path"),
            ("https://ops.example.com?x", "it has a path"),
            ("https://user@ops.example.com", "it has a user name"),
            ("https://", "invalid host ``"),
            (
                "https://ops..example.com",
                "invalid host `ops..example.com`",
            ),
            ("https://ops.example.com.", "invalid host"),
            ("https://-ops.example.com", "invalid host"),
            ("https://ops_x.example.com", "invalid host"),
            ("https://bücher.example", "invalid host `bücher.example`"),
            ("http://127.1", "invalid host `127.1`"),
            ("http://2130706433", "invalid host"),
            ("http://999.0.0.1", "invalid host"),
            ("https://[::1", "invalid host `[::1`"),
            ("https://[nope]", "invalid host"),
            ("https://[::1]x", "invalid host"),
            ("https://a.example:0", "invalid port `0`"),
            ("https://a.example:", "invalid port ``"),
            ("https://a.example:+80", "invalid port `+80`"),
            ("https://a.example:65536", "invalid port `65536`"),
            ("https://a.example:1:2", "invalid port `1:2`"),
        ] {
            let err = origin(bad).unwrap_err().to_string();
            assert!(err.contains(want), "{bad:?}: {err}");
        }
    }

    /// Asserts that `allows` holds for every `ok` value and for no `refused` one.
    fn assert_split(allows: impl Fn(&str) -> bool, ok: &[&str], refused: &[&str]) {
        for ok in ok {
            assert!(allows(ok), "{ok}");
        }
        for refused in refused {
            assert!(!allows(refused), "{refused}");
        }
    }

    fn hosts(listen: &str, public: &[&str]) -> AllowedHosts {
        AllowedHosts::new(
            listen.parse().unwrap(),
            public.iter().map(|p| origin(p).unwrap()).collect(),
        )
    }

    #[test]
    fn hosts_are_the_listen_address_loopback_names_and_public_origins() {
        let h = hosts("127.0.0.1:8085", &["https://ops.example.com"]);
        assert_split(
            |host| h.allows_host(host),
            &[
                "127.0.0.1:8085",
                "LOCALHOST:8085",
                "localhost:8085",
                "[::1]:8085",
                "ops.example.com",
                "Ops.Example.com:443",
            ],
            &[
                "evil.example:8085",
                "evil.example",
                "localhost",
                "127.0.0.1",
                "localhost:8086",
                "127.1:8085",
                "localhost.:8085",
                "ops.example.com:8085",
                "",
            ],
        );
        assert_split(
            |origin| h.allows_origin(origin),
            &[
                "http://127.0.0.1:8085",
                "http://localhost:8085",
                "http://[::1]:8085",
                "https://ops.example.com",
            ],
            &[
                "https://127.0.0.1:8085",
                "http://ops.example.com",
                "https://ops.example.com:443",
                "http://evil.example:8085",
                "null",
            ],
        );
        assert_eq!(h.public_origins().len(), 1);
    }

    #[test]
    fn the_default_port_may_be_left_out() {
        let h = hosts("0.0.0.0:80", &[]);
        assert!(h.allows_host("localhost"));
        assert!(h.allows_host("localhost:80"));
        assert!(h.allows_host("0.0.0.0"));
        assert!(h.allows_origin("http://localhost"));
        assert!(!h.allows_host("10.0.0.5"));
        let h = hosts("[::1]:8085", &[]);
        assert!(h.allows_host("[::1]:8085"));
        assert!(h.allows_host("127.0.0.1:8085"));
    }

    fn request(hosts: &[&str], uri: &str) -> (HeaderMap, Uri) {
        let mut h = HeaderMap::new();
        for v in hosts {
            h.append(header::HOST, v.parse().unwrap());
        }
        (h, uri.parse().unwrap())
    }

    #[test]
    fn requests_need_one_allowed_host() {
        let allowed = hosts("127.0.0.1:8085", &[]);
        let check = |hs: &[&str], uri: &str| {
            let (h, u) = request(hs, uri);
            allowed.check(&h, &u)
        };
        assert_eq!(check(&["127.0.0.1:8085"], "/"), Ok(()));
        assert_eq!(check(&[], "/"), Err(HostRefusal::Missing));
        assert_eq!(
            check(&["127.0.0.1:8085", "127.0.0.1:8085"], "/"),
            Err(HostRefusal::Several)
        );
        assert_eq!(
            check(&["evil.example:8085"], "/"),
            Err(HostRefusal::Other("evil.example:8085".to_owned()))
        );
        // The request line's host counts too (and alone, as HTTP/2 sends it).
        assert_eq!(
            check(&["127.0.0.1:8085"], "http://evil.example:8085/"),
            Err(HostRefusal::Other("evil.example:8085".to_owned()))
        );
        assert_eq!(check(&[], "http://localhost:8085/"), Ok(()));
        let long = format!("{}.example", "a".repeat(300));
        let Err(HostRefusal::Other(shown)) = check(&[&long], "/") else {
            panic!("refused");
        };
        assert_eq!(shown.len(), MAX_SHOWN + 3);
        let message = HostRefusal::Other("evil.example:8085".to_owned()).message();
        assert!(
            message.contains("Refused Host `evil.example:8085`"),
            "{message}"
        );
        assert!(message.contains("--public-origin"), "{message}");
        assert_eq!(
            HostRefusal::Other(String::new()).status(),
            http::StatusCode::MISDIRECTED_REQUEST
        );
        assert_eq!(HostRefusal::Missing.status(), http::StatusCode::BAD_REQUEST);
        let mut h = HeaderMap::new();
        h.insert(
            header::HOST,
            http::HeaderValue::from_bytes(b"caf\xe9.example").unwrap(),
        );
        assert_eq!(
            allowed.check(&h, &"/".parse().unwrap()),
            Err(HostRefusal::Unreadable)
        );
    }
}
