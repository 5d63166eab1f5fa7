//! The decision on any request: method, authority and path as any text, header lines as any
//! bytes, any peer, under several policies and a snapshot with sites in every state. Crashes
//! are panics in `decide` or `blocked_response`, or a broken property of
//! `maintenance_core::testkit::check_decision`.
#![no_main]
// The `no_mangle` entry point `fuzz_target!` exports comes from libfuzzer-sys's macro, which the
// lint does not look into, so unsafe code stays forbidden here.
#![forbid(unsafe_code)]

use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use maintenance_core::bypass::hash_secret;
use maintenance_core::testkit::{PATH_PIECES, RawRequest, check_decision};
use maintenance_core::{
    AllowedNetwork, FailMode, Identity, IgnoredPath, Mode, Policy, SiteState, UnknownHost,
    snapshot::Snapshot,
};
use maintenance_fuzz::{Header, Peer, Piece, SECRET, at, join};

#[derive(Debug, Arbitrary)]
struct Input {
    policy: u8,
    snapshot: u8,
    identity: u8,
    now: i16,
    method: Piece,
    host: Option<Vec<Piece>>,
    path: Vec<Piece>,
    headers: Vec<Header>,
    peer: Option<Peer>,
}

const METHODS: &[&str] = &["GET", "HEAD", "OPTIONS", "POST", "DELETE", "get", "GET "];

const HOSTS: &[&str] = &[
    "example.com",
    "shop.example.com",
    "SHOP.Example.com.:443",
    "off.example.com",
    "later.example.com",
    "[2001:db8::1]",
    "[2001:db8::1]:8080",
    "unknown.example",
    ":",
    ".",
    "[",
];

/// The core's path pieces and a few longer ones: whole segments with their slash, a query.
fn path_pieces() -> &'static [&'static str] {
    static PIECES: OnceLock<Vec<&'static str>> = OnceLock::new();
    PIECES.get_or_init(|| {
        let extra = [
            "static/",
            "api/health",
            "%5C",
            "_maintenance/bypass/",
            "?x=1",
        ];
        PATH_PIECES.iter().copied().chain(extra).collect()
    })
}

fn site(id: i64, domain: &str) -> SiteState {
    let mut s = SiteState::new(id, domain);
    s.enabled = true;
    s
}

fn patterns(list: &[&str]) -> Vec<IgnoredPath> {
    list.iter()
        .map(|p| IgnoredPath {
            pattern: (*p).to_owned(),
            description: String::new(),
        })
        .collect()
}

/// Sites in every state: full maintenance (the default, with patterns, a network, a secret),
/// read-only, off, scheduled, an IPv6 literal with a pattern that does not compile.
fn snapshot() -> &'static Snapshot {
    static SNAPSHOT: OnceLock<Snapshot> = OnceLock::new();
    SNAPSHOT.get_or_init(|| {
        let mut default = site(1, "example.com");
        default.is_default = true;
        default.message = Some("Back <soon> & \"well\"".to_owned());
        default.ends_at = Some(at(3600));
        default.ignored_paths = patterns(&["^static/", "^api/health$"]);
        default.allowed_networks = vec![AllowedNetwork {
            network: "198.51.100.0/24".parse().expect("network"),
            description: String::new(),
        }];
        default.bypass_secret_hash = Some(hash_secret(SECRET));

        let mut shop = site(2, "shop.example.com");
        shop.mode = Mode::ReadOnly;
        shop.retry_after_secs = Some(120);
        shop.bypass_secret_hash = Some(hash_secret(SECRET));

        let mut off = site(3, "off.example.com");
        off.enabled = false;

        let mut later = site(4, "later.example.com");
        later.starts_at = Some(at(600));

        let mut v6 = site(5, "[2001:db8::1]");
        v6.ignored_paths = patterns(&["(", "^admin"]);
        v6.ends_at = Some(at(-1));

        Snapshot::new(1, vec![default, shop, off, later, v6])
    })
}

/// Trusted proxies off and on, each forwarding header, each unknown-host choice, statuses
/// other than 503, one policy that ignores every path, fail-closed.
fn policies() -> &'static [Policy] {
    static POLICIES: OnceLock<Vec<Policy>> = OnceLock::new();
    POLICIES.get_or_init(|| {
        let built = [
            Policy::builder().internal_networks(["192.168.0.0/16"]),
            Policy::builder()
                .trusted_proxies(["10.0.0.0/8"])
                .unknown_host(UnknownHost::Strictest)
                .status(429)
                .ignored_patterns(["", "^admin"]),
            Policy::builder()
                .trusted_proxies(["10.0.0.0/8", "2001:db8::/32"])
                .client_ip_header("forwarded")
                .internal_networks(["203.0.113.0/24"])
                .block_staff(true)
                .bypass_signing_key(vec![7u8; 32])
                .bypass_cookie_ttl(Duration::from_secs(30))
                .html_template("<p>{{site}}: {{message}} ({{retry_after}})</p>"),
            Policy::builder()
                .trusted_proxies(["0.0.0.0/0", "::/0"])
                .client_ip_header("X-Real-IP")
                .unknown_host(UnknownHost::Strictest)
                .status(500)
                .fail_mode(FailMode::Closed),
        ];
        built
            .into_iter()
            .map(|b| b.build().expect("policy"))
            .collect()
    })
}

fuzz_target!(|input: Input| {
    let policies = policies();
    let policy = &policies[usize::from(input.policy) % policies.len()];
    let snapshot = (!input.snapshot.is_multiple_of(16)).then(snapshot);
    let identity = [Identity::Anonymous, Identity::Staff, Identity::Superuser]
        [usize::from(input.identity) % 3];
    let req = RawRequest {
        method: input.method.text(METHODS),
        host: input.host.as_deref().map(|h| join(h, HOSTS)),
        path: join(&input.path, path_pieces()),
        headers: input.headers.iter().map(Header::build).collect(),
        peer: input.peer.as_ref().map(Peer::ip),
    };
    if let Err(broken) = check_decision(snapshot, policy, &req, identity, at(i64::from(input.now)))
    {
        panic!("{broken}");
    }
});
