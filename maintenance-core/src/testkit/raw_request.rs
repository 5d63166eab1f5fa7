//! [`RawRequest`]: a request with any content the [`RequestView`] trait can carry.

use std::net::IpAddr;

use crate::request::{PeerAddr, RequestView};

/// A request built from raw parts, for property tests and fuzzing.
///
/// Real request types refuse most odd input before the decision sees it (`http` rejects
/// control bytes in header values and non-token methods), so testing through them alone never
/// shows what the decision does with what the trait still allows: any `&str` as method,
/// authority and path, and any bytes as a header line. Every field here takes such input.
///
/// `host` is what [`RequestView::host`] answers (the authority a framework routes on),
/// independent of any `Host` header line in `headers`, so a test can make the two disagree.
/// Header names match case-insensitively, as in `http::HeaderMap`; lines keep their order.
/// The builder methods are `with_*` so they do not hide the trait's `host` and `header`.
///
/// ```
/// use maintenance_core::RequestView;
/// use maintenance_core::testkit::RawRequest;
/// let req = RawRequest::new("GET", "/caf\u{e9}")
///     .with_host("Example.com")
///     .with_header("X-Forwarded-For", b"203.0.113.9".to_vec())
///     .with_header("x-forwarded-for", b"\xff\x00".to_vec())
///     .with_peer("10.0.0.1".parse().unwrap());
/// assert_eq!(req.header_bytes("x-forwarded-for").count(), 2);
/// assert_eq!(req.header("X-FORWARDED-FOR"), Some("203.0.113.9"));
/// assert!(req.to_http().is_none(), "http cannot carry the path or the second line");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawRequest {
    /// The method, as received (any text, not only tokens).
    pub method: String,
    /// The authority the request names, when it names one.
    pub host: Option<String>,
    /// The path as received (any text).
    pub path: String,
    /// Header lines in order: a name and the line's raw bytes.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The connection's peer address, when known.
    pub peer: Option<IpAddr>,
}

impl RawRequest {
    /// A request with this method and path, no authority, no header and no peer.
    pub fn new(method: impl Into<String>, path: impl Into<String>) -> Self {
        RawRequest {
            method: method.into(),
            path: path.into(),
            ..RawRequest::default()
        }
    }

    /// Sets the authority [`RequestView::host`] answers.
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Appends a header line.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the peer address.
    pub fn with_peer(mut self, peer: IpAddr) -> Self {
        self.peer = Some(peer);
        self
    }

    /// The same request as an `http::Request` (peer in a [`PeerAddr`] extension), when `http`
    /// can carry every part unchanged: then both read alike through [`RequestView`], which
    /// lets a test compare the decision on the two. `None` otherwise.
    ///
    /// The authority, when there is one, goes into an absolute-form target, so it is what the
    /// `http` request's [`RequestView::host`] answers whatever its `Host` lines say.
    pub fn to_http(&self) -> Option<http::Request<()>> {
        let method = http::Method::from_bytes(self.method.as_bytes()).ok()?;
        let uri: http::Uri = match &self.host {
            Some(host) => format!("http://{host}{}", self.path).parse().ok()?,
            None => self.path.parse().ok()?,
        };
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (name, value) in &self.headers {
            let name = http::HeaderName::from_bytes(name.as_bytes()).ok()?;
            let value = http::HeaderValue::from_bytes(value).ok()?;
            builder = builder.header(name, value);
        }
        let mut req = builder.body(()).ok()?;
        if let Some(peer) = self.peer {
            req.extensions_mut().insert(PeerAddr(peer));
        }
        // `http` may accept a part yet read it back differently (an absolute-form target
        // with an empty path reads `/`, a target with a query loses it); only an exact copy
        // is worth comparing. Header lines need no line-by-line check: a name `http` accepts
        // is an ASCII token, matched case-insensitively as here, and a value it accepts keeps
        // its bytes; only their number is compared.
        let same = RequestView::method(&req) == self.method
            && RequestView::host(&req) == self.host.as_deref()
            && RequestView::path(&req) == self.path
            && req.uri().query().is_none()
            && req.headers().len() == self.headers.len();
        same.then_some(req)
    }
}

impl RequestView for RawRequest {
    fn method(&self) -> &str {
        &self.method
    }
    fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn header_bytes<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
    fn peer_addr(&self) -> Option<IpAddr> {
        self.peer
    }
}
