//! The generators of the properties: arbitrary text and bytes mixed with the pieces that
//! reach the interesting branches.

use super::*;
use crate::bypass::sign_cookie;

/// Any characters at all, control characters and non-ASCII included (`any::<String>()` leaves
/// control characters out).
pub(super) fn any_text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter),
    ]
}

/// Text made of pieces that matter to the decision, with arbitrary text between them.
pub(super) fn pieces(list: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![3 => proptest::sample::select(list).prop_map(str::to_owned), 1 => any_text(6)],
        0..max,
    )
    .prop_map(|parts| parts.concat())
}

const SECRET: &str = testkit::PROPERTY_SECRET;
pub(super) const PEER: &str = testkit::PROPERTY_PEER;
pub(super) use crate::testkit::{ADDRESS_PIECES, HEADER_NAMES, PATH_PIECES};

/// A header line: arbitrary bytes, or pieces of addresses and cookies that may hold a byte
/// of any value.
pub(super) fn header_line(valid_cookie: String) -> impl Strategy<Value = Vec<u8>> {
    let cookie = format!("maintenance_bypass={valid_cookie}");
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        pieces(ADDRESS_PIECES, 8).prop_map(String::into_bytes),
        (
            pieces(ADDRESS_PIECES, 6),
            any::<u8>(),
            any::<prop::sample::Index>()
        )
            .prop_map(|(text, byte, at)| {
                let mut bytes = text.into_bytes();
                let at = at.index(bytes.len() + 1);
                bytes.insert(at, byte);
                bytes
            }),
        proptest::sample::select(vec![
            cookie.into_bytes(),
            SECRET.as_bytes().to_vec(),
            b"application/json".to_vec(),
            b"text/html;q=0.9, application/problem+json".to_vec(),
            b"shop.example.com".to_vec(),
            b"example.com".to_vec(),
        ]),
    ]
}

/// A forwarding header line as proxies write it, mostly: comma-separated entries, each an
/// address (the peer's own among them), a `for=` element, or a little garbage.
fn forwarding_line() -> impl Strategy<Value = Vec<u8>> {
    let address = proptest::sample::select(&ADDRESS_PIECES[..10]).prop_map(str::to_owned);
    let entry = prop_oneof![
        6 => address.clone(),
        2 => address.prop_map(|a| format!("for={a};proto=https")),
        1 => any::<IpAddr>().prop_map(|ip| ip.to_string()),
        1 => any_text(6),
    ];
    (
        proptest::collection::vec(entry, 0..4),
        proptest::sample::select(vec![",", ", ", " ,\t"]),
    )
        .prop_map(|(entries, sep)| entries.join(sep).into_bytes())
}

/// A header line for the client-address properties: mostly forwarding lines, the rest any
/// header line.
pub(super) fn client_ip_line() -> impl Strategy<Value = (String, Vec<u8>)> {
    prop_oneof![
        3 => (
            proptest::sample::select(vec!["x-forwarded-for", "Forwarded", "x-real-ip"]),
            forwarding_line(),
        )
            .prop_map(|(name, line)| (name.to_owned(), line)),
        1 => (header_name(), header_line(String::new())),
    ]
}

pub(super) fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(HEADER_NAMES).prop_map(str::to_owned),
        1 => any_text(12),
    ]
}

pub(super) fn peer_addr() -> impl Strategy<Value = Option<IpAddr>> {
    proptest::option::weighted(
        0.9,
        prop_oneof![
            proptest::sample::select(vec![
                PEER,
                "10.0.0.3",
                "::ffff:10.0.0.2",
                "203.0.113.50",
                "2001:db8::9",
            ])
            .prop_map(|p| p.parse::<IpAddr>().unwrap()),
            any::<IpAddr>(),
        ],
    )
}

/// Any request the trait can carry, and often one that `http` can carry too (so that
/// `check_decision` compares the two).
pub(super) fn raw_request() -> impl Strategy<Value = testkit::RawRequest> {
    prop_oneof![any_request(), plain_request()]
}

fn any_request() -> impl Strategy<Value = testkit::RawRequest> {
    let valid_cookie = sign_cookie(None, &hash_secret(SECRET), 1, t(NOW + 60));
    (
        prop_oneof![
            proptest::sample::select(vec!["GET", "HEAD", "OPTIONS", "POST", "get"])
                .prop_map(str::to_owned),
            any_text(10),
        ],
        proptest::option::of(prop_oneof![
            proptest::sample::select(vec![
                "example.com",
                "SHOP.example.com.:443",
                "shop.example.com",
                "off.example.com",
                "unknown.example",
            ])
            .prop_map(str::to_owned),
            any_text(20),
        ]),
        prop_oneof![pieces(PATH_PIECES, 10), any_text(40)],
        proptest::collection::vec((header_name(), header_line(valid_cookie)), 0..6),
        peer_addr(),
    )
        .prop_map(|(method, host, path, headers, peer)| testkit::RawRequest {
            method,
            host,
            path,
            headers,
            peer,
        })
}

/// A request of valid HTTP: a known method, a path of plain pieces, lowercase header names,
/// text lines, and the authority read from the first `Host` line as `http` does.
fn plain_request() -> impl Strategy<Value = testkit::RawRequest> {
    let valid_cookie = sign_cookie(None, &hash_secret(SECRET), 1, t(NOW + 60));
    let plain_path = proptest::collection::vec(
        proptest::sample::select(vec![
            "/",
            "admin",
            "static",
            ".",
            "..",
            "%2e",
            "%2F",
            "%25",
            "%3b",
            ";",
            "_maintenance",
            "bypass",
            SECRET,
            "%C3%A9",
        ]),
        0..8,
    )
    .prop_map(|parts| format!("/{}", parts.concat()));
    let name = proptest::sample::select(HEADER_NAMES).prop_map(str::to_ascii_lowercase);
    // Dropping the bytes `http` refuses, rather than rejecting the line, keeps proptest
    // from giving up on too many rejects at high case counts.
    let text_line = header_line(valid_cookie).prop_map(|mut line| {
        line.retain(|&b| b == b'\t' || (0x20..0x7f).contains(&b));
        line
    });
    (
        proptest::sample::select(vec!["GET", "HEAD", "OPTIONS", "POST", "DELETE"]),
        plain_path,
        proptest::collection::vec((name, text_line), 0..5),
        peer_addr(),
    )
        .prop_map(|(method, path, headers, peer)| {
            let host = headers
                .iter()
                .find(|(name, _)| name == "host")
                .and_then(|(_, line)| String::from_utf8(line.clone()).ok());
            testkit::RawRequest {
                method: method.to_owned(),
                host,
                path,
                headers,
                peer,
            }
        })
}

/// The policies the decision runs under: trusted proxies or not, each forwarding header,
/// each unknown-host choice, several statuses, ignored patterns that match every path.
pub(super) fn policy() -> impl Strategy<Value = Policy> {
    (
        any::<bool>(),
        0u8..3,
        any::<bool>(),
        proptest::sample::select(vec![503u16, 429, 500, 418]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(trusted, header, strictest, status, ignore_all, block_staff)| {
                let mut b = Policy::builder()
                    .internal_networks(["192.168.0.0/16", "2001:db8::/48"])
                    .client_ip_header(
                        ["x-forwarded-for", "forwarded", "x-real-ip"][header as usize],
                    )
                    .unknown_host(if strictest {
                        UnknownHost::Strictest
                    } else {
                        UnknownHost::DefaultSite
                    })
                    .status(status)
                    .block_staff(block_staff);
                if trusted {
                    b = b.trusted_proxies(["10.0.0.0/8"]);
                }
                if ignore_all {
                    // The empty pattern matches every path the matcher accepts, so only the
                    // path checks stand between an ambiguous path and a bypass.
                    b = b.ignored_patterns(["", "^admin"]);
                }
                b.build().unwrap()
            },
        )
}

fn network() -> impl Strategy<Value = ipnet::IpNet> {
    (any::<IpAddr>(), any::<u8>()).prop_map(|(ip, len)| {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        ipnet::IpNet::new(ip, len % (max + 1)).unwrap()
    })
}

fn arb_site() -> impl Strategy<Value = SiteState> {
    (
        (any::<bool>(), any::<bool>(), any::<bool>()),
        proptest::option::of(-100i64..100),
        proptest::option::of(-100i64..100),
        proptest::option::of(any::<u32>()),
        proptest::collection::vec(
            prop_oneof![any_text(12), Just(String::new())].prop_map(|pattern| IgnoredPath {
                pattern,
                description: String::new(),
            }),
            0..4,
        ),
        proptest::collection::vec(
            network().prop_map(|network| AllowedNetwork {
                network,
                description: String::new(),
            }),
            0..3,
        ),
        proptest::option::of(prop_oneof![Just(SECRET.to_owned()), any_text(8)]),
        proptest::option::of(any_text(20)),
    )
        .prop_map(
            |(
                (enabled, is_default, read_only),
                start,
                end,
                retry,
                patterns,
                networks,
                secret,
                message,
            )| {
                let mut s = site(1, "example.com");
                s.enabled = enabled;
                s.is_default = is_default;
                s.mode = if read_only {
                    Mode::ReadOnly
                } else {
                    Mode::Full
                };
                s.message = message;
                s.starts_at = start.map(|d| t(NOW + d));
                s.ends_at = end.map(|d| t(NOW + d));
                s.retry_after_secs = retry;
                s.ignored_paths = patterns;
                s.allowed_networks = networks;
                s.bypass_secret_hash = secret.map(|s| hash_secret(&s));
                s
            },
        )
}

/// Up to three sites under the domains the requests name, ids distinct.
pub(super) fn arb_snapshot() -> impl Strategy<Value = Option<Snapshot>> {
    proptest::option::weighted(
        0.95,
        proptest::collection::vec(arb_site(), 0..4).prop_map(|sites| {
            let domains = ["example.com", "shop.example.com", "off.example.com"];
            let sites = sites
                .into_iter()
                .zip(domains)
                .zip(1..)
                .map(|((mut s, domain), id)| {
                    s.id = id;
                    s.domain = domain.to_owned();
                    s
                })
                .collect();
            snap(sites)
        }),
    )
}

pub(super) fn identity() -> impl Strategy<Value = Identity> {
    proptest::sample::select(vec![
        Identity::Anonymous,
        Identity::Staff,
        Identity::Superuser,
    ])
}

/// A forwarding header line holding at least one byte that is not text.
pub(super) fn unreadable_line() -> impl Strategy<Value = Vec<u8>> {
    let not_text = prop_oneof![0u8..=8, 10u8..=31, 127u8..=255];
    (
        pieces(ADDRESS_PIECES, 6),
        not_text,
        any::<prop::sample::Index>(),
    )
        .prop_map(|(text, byte, at)| {
            let mut bytes = text.into_bytes();
            let at = at.index(bytes.len() + 1);
            bytes.insert(at, byte);
            bytes
        })
}

pub(super) fn client_ip_headers() -> [ClientIpHeader; 3] {
    [
        ClientIpHeader::XForwardedFor,
        ClientIpHeader::Forwarded,
        ClientIpHeader::Named(http::HeaderName::from_static("x-real-ip")),
    ]
}
