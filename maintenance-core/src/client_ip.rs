//! The client's address: the peer, or what trusted proxies say of it.
//!
//! Only when the peer is a trusted proxy is a forwarding header read, and then from the
//! right: each proxy appends the address it saw, so the rightmost entry that is not itself a
//! trusted proxy is the first one nobody could forge. The leftmost entry is whatever the
//! client chose to send and is never used.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use crate::request::{RequestView, header_text};

/// Which header trusted proxies use to pass on the client's address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ClientIpHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for=proxy1`.
    Forwarded,
    /// Another header holding one address or a comma-separated list (e.g. `X-Real-IP`).
    Named(http::HeaderName),
}

impl ClientIpHeader {
    /// The header's name as a client sends it (`X-Forwarded-For`, `Forwarded`, or the name
    /// given).
    pub fn name(&self) -> &str {
        match self {
            ClientIpHeader::XForwardedFor => "X-Forwarded-For",
            ClientIpHeader::Forwarded => "Forwarded",
            ClientIpHeader::Named(name) => name.as_str(),
        }
    }
}

/// Whether `ip` lies in one of `networks`. IPv4-mapped IPv6 addresses count as IPv4.
pub fn in_networks(networks: &[IpNet], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    networks.iter().any(|n| n.contains(&ip))
}

/// The client's address for `req`.
///
/// The peer address when it is not a trusted proxy (or no proxy is trusted). Otherwise the
/// rightmost entry of the forwarding header that is not a trusted proxy; if every entry is
/// trusted, the leftmost one.
///
/// It fails closed: `None`, so that no address-based bypass is granted, when there is no peer
/// address, or when the peer is a trusted proxy and the header is missing, empty, holds a line
/// that is not text (non-ASCII or control bytes: one such line makes the whole header
/// unreadable), holds an empty element, or the entry that decides (or one to its right) is not
/// an address. It is never the trusted proxy's own address: a proxy that forwards a request
/// always names the client, and a framework may drop a line it cannot read, so a missing
/// header is as untrustworthy as a garbled one.
///
/// ```
/// use maintenance_core::{adapter::client_ip, ClientIpHeader, adapter::PeerAddr};
/// let mut req = http::Request::builder()
///     .uri("/")
///     .header("x-forwarded-for", "6.6.6.6, 203.0.113.9")
///     .body(())
///     .unwrap();
/// req.extensions_mut().insert(PeerAddr("10.0.0.2".parse().unwrap()));
/// let trusted = ["10.0.0.0/8".parse().unwrap()];
/// let ip = client_ip(&req, &trusted, &ClientIpHeader::XForwardedFor);
/// assert_eq!(ip, Some("203.0.113.9".parse().unwrap()));
/// ```
pub fn client_ip<R: RequestView + ?Sized>(
    req: &R,
    trusted_proxies: &[IpNet],
    header: &ClientIpHeader,
) -> Option<IpAddr> {
    let peer = req.peer_addr()?.to_canonical();
    if !in_networks(trusted_proxies, peer) {
        return Some(peer);
    }
    let name = match header {
        ClientIpHeader::XForwardedFor => "x-forwarded-for",
        ClientIpHeader::Forwarded => "forwarded",
        ClientIpHeader::Named(name) => name.as_str(),
    };
    forwarded_client(
        req.header_bytes(name),
        trusted_proxies,
        matches!(header, ClientIpHeader::Forwarded),
    )
}

/// The client named by the lines of a forwarding header, read from the right.
fn forwarded_client<'a>(
    lines: impl Iterator<Item = &'a [u8]>,
    trusted_proxies: &[IpNet],
    rfc7239: bool,
) -> Option<IpAddr> {
    let mut entries: Vec<&str> = Vec::new();
    for line in lines {
        let text = header_text(line)?;
        for entry in text.split(',') {
            let entry = entry.trim();
            if entry.is_empty() {
                return None;
            }
            entries.push(entry);
        }
    }
    let mut leftmost = None;
    for entry in entries.iter().rev() {
        let ip = if rfc7239 {
            parse_forwarded_for(entry)?
        } else {
            parse_node(entry)?
        };
        if !in_networks(trusted_proxies, ip) {
            return Some(ip);
        }
        leftmost = Some(ip);
    }
    leftmost
}

/// Parses `1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]` or `[::1]:80`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = node.parse::<SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    node.strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .and_then(|s| s.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
}

/// The address in the `for=` parameter of one `Forwarded` element.
fn parse_forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        if key.trim().eq_ignore_ascii_case("for") {
            Some(parse_node(value))
        } else {
            None
        }
    })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::PeerAddr;

    fn req(peer: &str, headers: &[(&str, &str)]) -> http::Request<()> {
        let mut b = http::Request::builder().uri("/");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let mut r = b.body(()).unwrap();
        r.extensions_mut().insert(PeerAddr(peer.parse().unwrap()));
        r
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_sends() {
        let r = req("203.0.113.5", &[("x-forwarded-for", "10.0.0.1")]);
        let got = client_ip(&r, &nets(&["10.0.0.0/8"]), &ClientIpHeader::XForwardedFor);
        assert_eq!(got, ip("203.0.113.5"));
    }

    #[test]
    fn no_trusted_proxies_means_peer() {
        let r = req("10.0.0.9", &[("x-forwarded-for", "127.0.0.1")]);
        assert_eq!(
            client_ip(&r, &[], &ClientIpHeader::XForwardedFor),
            ip("10.0.0.9")
        );
    }

    #[test]
    fn rightmost_untrusted_entry_is_used() {
        let trusted = nets(&["10.0.0.0/8", "192.168.0.0/16"]);
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<IpAddr>);
        let cases: &[Case<'_>] = &[
            (&[("x-forwarded-for", "203.0.113.7")], ip("203.0.113.7")),
            (
                &[("x-forwarded-for", "127.0.0.1, 203.0.113.7")],
                ip("203.0.113.7"),
            ),
            (
                &[("x-forwarded-for", "203.0.113.7, 192.168.1.1")],
                ip("203.0.113.7"),
            ),
            (
                &[
                    ("x-forwarded-for", "127.0.0.1"),
                    ("x-forwarded-for", "198.51.100.2"),
                ],
                ip("198.51.100.2"),
            ),
            (
                &[("x-forwarded-for", "10.1.1.1, 192.168.1.1")],
                ip("10.1.1.1"),
            ),
            (&[], None),
            (
                &[("x-forwarded-for", "198.51.100.2:5555")],
                ip("198.51.100.2"),
            ),
            (
                &[("x-forwarded-for", "[2001:db8::1]:80")],
                ip("2001:db8::1"),
            ),
            (&[("x-forwarded-for", "2001:db8::2")], ip("2001:db8::2")),
            (
                &[("x-forwarded-for", "::ffff:198.51.100.3")],
                ip("198.51.100.3"),
            ),
            (&[("x-forwarded-for", "127.0.0.1, garbage")], None),
            (&[("x-forwarded-for", "unknown")], None),
        ];
        for (headers, want) in cases {
            let r = req("10.0.0.2", headers);
            assert_eq!(
                client_ip(&r, &trusted, &ClientIpHeader::XForwardedFor),
                *want,
                "headers {headers:?}"
            );
        }
    }

    #[test]
    fn forwarded_header_is_parsed() {
        let trusted = nets(&["10.0.0.0/8"]);
        let cases = [
            ("for=198.51.100.17;proto=https", ip("198.51.100.17")),
            ("for=127.0.0.1, for=198.51.100.17", ip("198.51.100.17")),
            ("For=\"[2001:db8:cafe::17]:4711\"", ip("2001:db8:cafe::17")),
            ("for=198.51.100.17, for=10.0.0.3", ip("198.51.100.17")),
            ("for=unknown", None),
            ("for=_hidden, for=10.0.0.3", None),
            ("proto=https", None),
        ];
        for (value, want) in cases {
            let r = req("10.0.0.2", &[("forwarded", value)]);
            assert_eq!(
                client_ip(&r, &trusted, &ClientIpHeader::Forwarded),
                want,
                "{value}"
            );
        }
    }

    #[test]
    fn named_header_is_read() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = ClientIpHeader::Named(http::HeaderName::from_static("x-real-ip"));
        let r = req(
            "10.0.0.2",
            &[
                ("x-real-ip", "198.51.100.8"),
                ("x-forwarded-for", "1.1.1.1"),
            ],
        );
        assert_eq!(client_ip(&r, &trusted, &h), ip("198.51.100.8"));
    }

    #[test]
    fn mapped_ipv6_peer_matches_ipv4_networks() {
        assert!(in_networks(
            &nets(&["127.0.0.0/8"]),
            "::ffff:127.0.0.1".parse().unwrap()
        ));
        assert!(!in_networks(
            &nets(&["10.0.0.0/8"]),
            "2001:db8::1".parse().unwrap()
        ));
        assert!(in_networks(
            &nets(&["2001:db8::/32"]),
            "2001:db8::1".parse().unwrap()
        ));
    }

    fn raw_req(peer: &str, name: &str, lines: &[&[u8]]) -> http::Request<()> {
        let mut b = http::Request::builder().uri("/");
        for line in lines {
            b = b.header(name, http::HeaderValue::from_bytes(line).unwrap());
        }
        let mut r = b.body(()).unwrap();
        r.extensions_mut().insert(PeerAddr(peer.parse().unwrap()));
        r
    }

    #[test]
    fn unreadable_or_empty_header_from_a_trusted_proxy_means_no_address() {
        let trusted = nets(&["10.0.0.0/8"]);
        let high: Vec<Vec<u8>> = (0x80..=0xffu8).map(|b| vec![b]).collect();
        let mut cases: Vec<Vec<&[u8]>> = vec![
            vec![b""],
            vec![b","],
            vec![b" , "],
            vec![b"203.0.113.7,"],
            vec![b",203.0.113.7"],
            vec![b"203.0.113.7,,10.0.0.3"],
            vec!["é".as_bytes()],
            vec!["é, 203.0.113.7".as_bytes()],
            vec!["203.0.113.7".as_bytes(), "é".as_bytes()],
            vec!["é".as_bytes(), "203.0.113.7".as_bytes()],
            vec![b"garbage"],
            vec![b"203.0.113.7, garbage"],
            vec![b"999.1.1.1"],
            vec![b"unknown"],
        ];
        for h in &high {
            cases.push(vec![h.as_slice()]);
            cases.push(vec![b"203.0.113.7", h.as_slice()]);
        }
        for header in [
            ClientIpHeader::XForwardedFor,
            ClientIpHeader::Forwarded,
            ClientIpHeader::Named(http::HeaderName::from_static("x-real-ip")),
        ] {
            let name = match &header {
                ClientIpHeader::XForwardedFor => "x-forwarded-for",
                ClientIpHeader::Forwarded => "forwarded",
                ClientIpHeader::Named(n) => n.as_str(),
            };
            for lines in &cases {
                let r = raw_req("10.0.0.2", name, lines);
                assert_eq!(
                    client_ip(&r, &trusted, &header),
                    None,
                    "{header:?} {lines:?}"
                );
            }
            let missing = raw_req("10.0.0.2", name, &[]);
            assert_eq!(
                client_ip(&missing, &trusted, &header),
                None,
                "{header:?} missing"
            );
        }
    }

    #[test]
    fn garbage_left_of_the_deciding_entry_is_not_read() {
        // The proxy appended the client's real address; what the client wrote before it does
        // not matter as long as it is text.
        let trusted = nets(&["10.0.0.0/8"]);
        let r = req("10.0.0.2", &[("x-forwarded-for", "garbage, 203.0.113.7")]);
        assert_eq!(
            client_ip(&r, &trusted, &ClientIpHeader::XForwardedFor),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn no_peer_no_address() {
        let r = http::Request::builder().uri("/").body(()).unwrap();
        assert_eq!(client_ip(&r, &[], &ClientIpHeader::XForwardedFor), None);
    }
}
