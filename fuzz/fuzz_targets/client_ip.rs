//! The client address from any header lines and any peer, for each kind of forwarding header
//! and several sets of trusted proxies. Crashes are panics in `client_ip`, or a broken
//! property of `maintenance_core::testkit::check_client_ip` (above all: behind a trusted
//! proxy, a missing or unreadable header gives no address, and an address is never one the
//! header does not name).
#![no_main]
// The `no_mangle` entry point `fuzz_target!` exports comes from libfuzzer-sys's macro, which the
// lint does not look into, so unsafe code stays forbidden here.
#![forbid(unsafe_code)]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use maintenance_core::ClientIpHeader;
use maintenance_core::http::HeaderName;
use maintenance_core::ipnet::IpNet;
use maintenance_core::testkit::{RawRequest, check_client_ip};
use maintenance_fuzz::{LinePiece, Peer, Piece, line};

#[derive(Debug, Arbitrary)]
struct Input {
    peer: Option<Peer>,
    lines: Vec<(Piece, Vec<LinePiece>)>,
}

/// Names of the forwarding headers, so most lines are read; any other name is arbitrary text.
const NAMES: &[&str] = &[
    "x-forwarded-for",
    "X-Forwarded-For",
    "forwarded",
    "Forwarded",
    "x-real-ip",
];

fn trusted_sets() -> &'static [Vec<IpNet>] {
    static SETS: OnceLock<Vec<Vec<IpNet>>> = OnceLock::new();
    SETS.get_or_init(|| {
        let sets: [&[&str]; 4] = [
            &[],
            &["10.0.0.0/8"],
            &["10.0.0.0/8", "2001:db8::/32", "192.168.1.1/32"],
            &["0.0.0.0/0", "::/0"],
        ];
        sets.iter()
            .map(|set| set.iter().map(|n| n.parse().expect("network")).collect())
            .collect()
    })
}

fuzz_target!(|input: Input| {
    let req = RawRequest {
        headers: input
            .lines
            .iter()
            .map(|(name, value)| (name.text(NAMES), line(value)))
            .collect(),
        peer: input.peer.as_ref().map(Peer::ip),
        ..RawRequest::new("GET", "/")
    };
    let headers = [
        ClientIpHeader::XForwardedFor,
        ClientIpHeader::Forwarded,
        ClientIpHeader::Named(HeaderName::from_static("x-real-ip")),
    ];
    for trusted in trusted_sets() {
        for header in &headers {
            if let Err(broken) = check_client_ip(&req, trusted, header) {
                panic!("{broken}");
            }
        }
    }
});
