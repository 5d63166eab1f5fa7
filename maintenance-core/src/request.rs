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
    /// The method, e.g. `GET`.
    fn method(&self) -> &str;
    /// The host the request was sent to (the `Host` header, or the URI's authority).
    fn host(&self) -> Option<&str>;
    /// The path, as received (still percent-encoded), without the query.
    fn path(&self) -> &str;
    /// Every value of a header, in the order received. Values that are not text are left out.
    fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a;
    /// The address of the connection's peer, when known.
    fn peer_addr(&self) -> Option<IpAddr>;

    /// The first value of a header.
    fn header<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.header_values(name).next()
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

fn host_of<'a>(headers: &'a http::HeaderMap, uri: &'a http::Uri) -> Option<&'a str> {
    headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(http::uri::Authority::as_str))
}

fn values_of<'a>(
    headers: &'a http::HeaderMap,
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers.get_all(name).iter().filter_map(|v| v.to_str().ok())
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
    fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        values_of(self.headers(), name)
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
    fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        values_of(&self.headers, name)
    }
    fn peer_addr(&self) -> Option<IpAddr> {
        peer_from_extensions(&self.extensions)
    }
}

/// A request view with the peer address supplied from elsewhere (e.g. axum's `ConnectInfo`).
///
/// ```
/// use maintenance_core::{RequestView, WithPeer};
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
    fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.inner.header_values(name)
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
    fn host_header_wins_over_authority() {
        let req = http::Request::builder()
            .uri("http://a.example/")
            .header("host", "b.example")
            .body(())
            .unwrap();
        assert_eq!(RequestView::host(&req), Some("b.example"));
    }
}
