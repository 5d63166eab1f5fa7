//! The request as the decision sees it, and who makes it.
//!
//! Web frameworks disagree on request types (actix-web 4 still uses `http` 0.2, rocket has its
//! own), so the decision reads requests through [`RequestView`]. It is implemented here for
//! `http` 1.x requests and request parts; each adapter implements it for its framework.

use std::net::{IpAddr, SocketAddr};

/// Read access to what the decision needs from a request.
///
/// ```
/// use maintenance_core::RequestView;
/// let req = http::Request::builder()
///     .uri("/shop?page=2")
///     .header("host", "example.com")
///     .body(())
///     .unwrap();
/// assert_eq!(req.path(), "/shop");
/// assert_eq!(RequestView::host(&req), Some("example.com"));
/// ```
pub trait RequestView {
    /// The method, exactly as received (`get` is not `GET`).
    fn method(&self) -> &str;
    /// The authority the request was sent to, as RFC 9112 §3.2.2 reads it: the target's
    /// authority (an absolute-form request target, or HTTP/2's `:authority`), else the `Host`
    /// header. A framework that drops the target's authority answers what it routes on.
    fn host(&self) -> Option<&str>;
    /// The path, as received (still percent-encoded), without the query.
    fn path(&self) -> &str;
    /// Every line of a header as raw bytes, in the order received, none left out: what the
    /// client address is read from, where an unreadable line must not simply vanish.
    fn header_bytes<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a;
    /// The address of the connection's peer, when known.
    fn peer_addr(&self) -> Option<IpAddr>;

    /// Every line of a header that is text (visible ASCII, spaces and tabs), in the order
    /// received. Lines holding other bytes are left out.
    fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.header_bytes(name).filter_map(header_text)
    }

    /// The first text line of a header.
    fn header<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.header_values(name).next()
    }

    /// The other authorities the request names, that a router might use instead of
    /// [`RequestView::host`]: the `Host` lines other than the one `host` answered (with an
    /// absolute-form target, every `Host` line). The decision lets a request pass only if the
    /// sites these name let it pass too.
    fn other_hosts<'a>(&'a self) -> impl Iterator<Item = &'a str> + 'a {
        let host = self.host();
        self.header_values("host").filter(move |h| Some(*h) != host)
    }
}

/// A header line as text, when every byte is visible ASCII, a space or a tab.
///
/// ```
/// use maintenance_core::adapter::header_text;
/// assert_eq!(header_text(b"10.0.0.1, 203.0.113.9"), Some("10.0.0.1, 203.0.113.9"));
/// assert_eq!(header_text("é".as_bytes()), None);
/// assert_eq!(header_text(b"a\x00b"), None);
/// ```
pub fn header_text(bytes: &[u8]) -> Option<&str> {
    if bytes
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        std::str::from_utf8(bytes).ok()
    } else {
        None
    }
}

/// Who makes the request, as the application knows it (from a session, a JWT, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Identity {
    /// Not logged in, or an ordinary user.
    #[default]
    Anonymous,
    /// A staff member: passes unless the policy's `block_staff` is set.
    Staff,
    /// A superuser: always passes.
    Superuser,
}

/// Tells who makes a request, asked only when the decision reaches its identity step.
///
/// Finding out who is logged in (parsing cookies, looking up a session, checking a token) is
/// the application's cost, so [`crate::decide`] asks at most once per request, and only when
/// it matters: never for a site that is not in maintenance (or outside its window), never for
/// a bypass link or a client in an internal or allowed network. An [`Identity`] already known
/// is a lookup too, and so is any `FnMut() -> Identity` closure.
///
/// ```
/// use maintenance_core::{decide, Identity, Policy, SiteState, snapshot::Snapshot};
/// let snap = Snapshot::new(1, vec![SiteState::new(1, "example.com")]); // not in maintenance
/// let req = http::Request::builder().uri("/").header("host", "example.com").body(()).unwrap();
/// let mut asked = 0;
/// let d = decide(Some(&snap), &Policy::default(), &req, || { asked += 1; Identity::Staff }, chrono::Utc::now());
/// assert!(d.is_allowed());
/// assert_eq!(asked, 0); // the site is not in maintenance: nobody needed to know
/// ```
pub trait IdentityLookup {
    /// Who makes the request.
    fn identity(&mut self) -> Identity;
}

impl IdentityLookup for Identity {
    fn identity(&mut self) -> Identity {
        *self
    }
}

impl<F: FnMut() -> Identity> IdentityLookup for F {
    fn identity(&mut self) -> Identity {
        self()
    }
}

/// An [`IdentityLookup`] asked at most once, however many sites a request names.
pub(crate) struct AskOnce<L> {
    lookup: L,
    known: Option<Identity>,
}

impl<L: IdentityLookup> AskOnce<L> {
    pub(crate) fn new(lookup: L) -> Self {
        AskOnce {
            lookup,
            known: None,
        }
    }

    pub(crate) fn get(&mut self) -> Identity {
        *self.known.get_or_insert_with(|| self.lookup.identity())
    }
}

/// The peer address of a connection, for servers that put it in request extensions.
///
/// The `http` implementation of [`RequestView`] reads a `PeerAddr` extension, else a
/// [`SocketAddr`] extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub IpAddr);

fn peer_from_extensions(ext: &http::Extensions) -> Option<IpAddr> {
    ext.get::<PeerAddr>()
        .map(|p| p.0)
        .or_else(|| ext.get::<SocketAddr>().map(SocketAddr::ip))
}

/// The target's authority (absolute-form, or HTTP/2's `:authority`, which hyper puts in the
/// URI), else the `Host` header: RFC 9112 §3.2.2.
fn host_of<'a>(headers: &'a http::HeaderMap, uri: &'a http::Uri) -> Option<&'a str> {
    uri.authority()
        .map(http::uri::Authority::as_str)
        .or_else(|| {
            headers
                .get(http::header::HOST)
                .and_then(|v| v.to_str().ok())
        })
}

/// The `Host` lines besides the one [`host_of`] answered.
fn other_hosts_of<'a>(
    headers: &'a http::HeaderMap,
    uri: &'a http::Uri,
) -> impl Iterator<Item = &'a str> + 'a {
    // Without a target authority, `host_of` answered the first `Host` line.
    let answered = usize::from(uri.authority().is_none());
    headers
        .get_all(http::header::HOST)
        .iter()
        .skip(answered)
        .filter_map(|v| v.to_str().ok())
}

/// The headers the decision reads, as `http`'s constants: looking one up by a constant costs
/// no parse of its name.
fn standard_header(name: &str) -> Option<http::HeaderName> {
    use http::header;
    Some(match name {
        "host" => header::HOST,
        "accept" => header::ACCEPT,
        "content-type" => header::CONTENT_TYPE,
        "cookie" => header::COOKIE,
        "forwarded" => header::FORWARDED,
        _ => return None,
    })
}

fn bytes_of<'a>(
    headers: &'a http::HeaderMap,
    name: &'a str,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    let lines = match standard_header(name) {
        Some(name) => headers.get_all(name),
        None => headers.get_all(name),
    };
    lines.into_iter().map(http::HeaderValue::as_bytes)
}

impl<B> RequestView for http::Request<B> {
    fn method(&self) -> &str {
        http::Request::method(self).as_str()
    }
    fn host(&self) -> Option<&str> {
        host_of(self.headers(), self.uri())
    }
    fn path(&self) -> &str {
        self.uri().path()
    }
    fn header_bytes<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        bytes_of(self.headers(), name)
    }
    fn other_hosts<'a>(&'a self) -> impl Iterator<Item = &'a str> + 'a {
        other_hosts_of(self.headers(), self.uri())
    }
    fn peer_addr(&self) -> Option<IpAddr> {
        peer_from_extensions(self.extensions())
    }
}

impl RequestView for http::request::Parts {
    fn method(&self) -> &str {
        self.method.as_str()
    }
    fn host(&self) -> Option<&str> {
        host_of(&self.headers, &self.uri)
    }
    fn path(&self) -> &str {
        self.uri.path()
    }
    fn header_bytes<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        bytes_of(&self.headers, name)
    }
    fn other_hosts<'a>(&'a self) -> impl Iterator<Item = &'a str> + 'a {
        other_hosts_of(&self.headers, &self.uri)
    }
    fn peer_addr(&self) -> Option<IpAddr> {
        peer_from_extensions(&self.extensions)
    }
}

/// A request view with the peer address supplied from elsewhere (e.g. axum's `ConnectInfo`).
///
/// ```
/// use maintenance_core::{RequestView, adapter::WithPeer};
/// let req = http::Request::builder().uri("/").body(()).unwrap();
/// let view = WithPeer::new(&req, Some("10.1.2.3".parse().unwrap()));
/// assert_eq!(view.peer_addr(), Some("10.1.2.3".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct WithPeer<'r, R: ?Sized> {
    inner: &'r R,
    peer: Option<IpAddr>,
}

impl<'r, R: RequestView + ?Sized> WithPeer<'r, R> {
    /// Wraps `inner`, answering `peer` as its peer address (or the inner one when `None`).
    pub fn new(inner: &'r R, peer: Option<IpAddr>) -> Self {
        WithPeer { inner, peer }
    }
}

impl<R: RequestView + ?Sized> RequestView for WithPeer<'_, R> {
    fn method(&self) -> &str {
        self.inner.method()
    }
    fn host(&self) -> Option<&str> {
        self.inner.host()
    }
    fn path(&self) -> &str {
        self.inner.path()
    }
    fn header_bytes<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.inner.header_bytes(name)
    }
    fn other_hosts<'a>(&'a self) -> impl Iterator<Item = &'a str> + 'a {
        self.inner.other_hosts()
    }
    fn peer_addr(&self) -> Option<IpAddr> {
        self.peer.or_else(|| self.inner.peer_addr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_request_and_parts_read_alike() {
        let mut req = http::Request::builder()
            .method("POST")
            .uri("http://api.example.com/items/%41?x=1")
            .header("x-forwarded-for", "1.1.1.1")
            .header("x-forwarded-for", "2.2.2.2")
            .body(())
            .unwrap();
        req.extensions_mut()
            .insert(SocketAddr::from(([10, 0, 0, 1], 4000)));
        assert_eq!(RequestView::method(&req), "POST");
        assert_eq!(RequestView::host(&req), Some("api.example.com"));
        assert_eq!(RequestView::path(&req), "/items/%41");
        assert_eq!(
            req.header_values("x-forwarded-for").collect::<Vec<_>>(),
            ["1.1.1.1", "2.2.2.2"]
        );
        assert_eq!(req.peer_addr(), Some(IpAddr::from([10, 0, 0, 1])));

        let (mut parts, ()) = req.into_parts();
        parts
            .extensions
            .insert(PeerAddr(IpAddr::from([192, 168, 1, 1])));
        assert_eq!(RequestView::method(&parts), "POST");
        assert_eq!(RequestView::host(&parts), Some("api.example.com"));
        assert_eq!(parts.header("X-Forwarded-For"), Some("1.1.1.1"));
        assert_eq!(parts.peer_addr(), Some(IpAddr::from([192, 168, 1, 1])));
    }

    #[test]
    fn target_authority_wins_over_host_header() {
        for (target, host) in [("http://a.example/", "a.example"), ("/", "b.example")] {
            let req = http::Request::builder()
                .uri(target)
                .header("host", "b.example")
                .body(())
                .unwrap();
            assert_eq!(RequestView::host(&req), Some(host), "{target}");
        }
    }

    #[test]
    fn other_hosts_are_the_host_lines_host_did_not_answer() {
        let with_hosts = |uri: &str, hosts: &[&str]| {
            let mut b = http::Request::builder().uri(uri);
            for host in hosts {
                b = b.header("host", *host);
            }
            b.body(()).unwrap()
        };
        let two_lines = with_hosts("/", &["a.example", "b.example"]);
        assert_eq!(RequestView::host(&two_lines), Some("a.example"));
        assert_eq!(two_lines.other_hosts().collect::<Vec<_>>(), ["b.example"]);
        let absolute = with_hosts("http://a.example/", &["b.example"]);
        assert_eq!(absolute.other_hosts().collect::<Vec<_>>(), ["b.example"]);
        let (parts, ()) = absolute.into_parts();
        assert_eq!(parts.other_hosts().collect::<Vec<_>>(), ["b.example"]);
        let one = with_hosts("/", &["a.example"]);
        assert_eq!(one.other_hosts().count(), 0);
        // The trait's own answer, for views that do not override it.
        let view = WithPeer::new(&one, None);
        assert_eq!(view.other_hosts().count(), 0);
    }

    #[test]
    fn unreadable_lines_are_kept_as_bytes_and_left_out_as_text() {
        let req = http::Request::builder()
            .uri("/")
            .header(
                "x-forwarded-for",
                http::HeaderValue::from_bytes(b"\xe9").unwrap(),
            )
            .header("x-forwarded-for", "10.0.0.1")
            .body(())
            .unwrap();
        assert_eq!(
            req.header_bytes("x-forwarded-for").collect::<Vec<_>>(),
            [&b"\xe9"[..], b"10.0.0.1"]
        );
        assert_eq!(
            req.header_values("x-forwarded-for").collect::<Vec<_>>(),
            ["10.0.0.1"]
        );
    }
}
