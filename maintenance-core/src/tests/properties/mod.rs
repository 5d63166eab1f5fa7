//! Properties over arbitrary input: any text where the request view gives text, any bytes in
//! header lines. Generators mix fully arbitrary values with pieces that reach the interesting
//! branches (addresses, the peer itself, encoded dots, the bypass secret, a valid cookie),
//! since random bytes alone almost never form an address or a site's domain. CI runs this
//! module again with a raised `PROPTEST_CASES`.
//!
//! The generators are in `strategies`.

use proptest::prelude::*;

use super::*;

mod strategies;
use strategies::*;

/// Cases per property: a few hundred in `cargo test`, or `PROPTEST_CASES` (CI raises it).
/// `ProptestConfig::with_cases` would ignore the variable, so it is read here.
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// `decide` and `blocked_response` never panic, and every checked property holds, for any
    /// request under any of the policies (`testkit::check_decision`).
    #[test]
    fn decide_holds_for_any_request(
        snapshot in arb_snapshot(),
        policy in policy(),
        req in raw_request(),
        who in identity(),
        now in prop_oneof![Just(NOW), NOW - 200..NOW + 200],
    ) {
        let checked = testkit::check_decision(snapshot.as_ref(), &policy, &req, who, t(now));
        prop_assert!(checked.is_ok(), "{}", checked.unwrap_err());
    }

    /// A path whose decoded form is ambiguous never gets a path bypass, even when the policy
    /// ignores every path.
    #[test]
    fn ambiguous_paths_never_get_a_path_bypass(
        path in prop_oneof![pieces(PATH_PIECES, 12), any_text(40)],
        method in proptest::sample::select(vec!["GET", "POST"]),
    ) {
        let policy = Policy::builder().ignored_patterns([""]).build().unwrap();
        let snapshot = snap(vec![default_site()]);
        let req = testkit::RawRequest::new(method, path.clone());
        let d = decide(Some(&snapshot), &policy, &req, Identity::Anonymous, t(NOW));
        if testkit::path_is_ambiguous(&path) {
            prop_assert!(!matches!(d, Decision::Allow(AllowReason::IgnoredPath)), "{path:?}: {d:?}");
        } else if path_for_matching(&path).is_some() {
            // The other way round: a plain path the matcher reads is ignored as configured.
            prop_assert!(matches!(d, Decision::Allow(AllowReason::IgnoredPath)), "{path:?}: {d:?}");
        }
    }

    /// The client address fails closed for any forwarding header, from any peer
    /// (`testkit::check_client_ip`).
    #[test]
    fn client_ip_holds_for_any_header(
        lines in proptest::collection::vec(client_ip_line(), 0..4),
        peer in peer_addr(),
        trusted in proptest::sample::select(vec![
            vec![],
            vec!["10.0.0.0/8"],
            vec!["10.0.0.0/8", "2001:db8::/32"],
            vec!["0.0.0.0/0", "::/0"],
        ]),
    ) {
        let req = testkit::RawRequest { headers: lines, peer, ..testkit::RawRequest::new("GET", "/") };
        let trusted: Vec<ipnet::IpNet> = trusted.iter().map(|n| n.parse().unwrap()).collect();
        for header in client_ip_headers() {
            let checked = testkit::check_client_ip(&req, &trusted, &header);
            prop_assert!(checked.is_ok(), "{}", checked.unwrap_err());
        }
    }

    /// Behind a trusted proxy, one unreadable line anywhere in the configured header means
    /// no address, whatever the other lines say.
    #[test]
    fn one_unreadable_forwarding_line_means_no_address(
        before in proptest::collection::vec(pieces(ADDRESS_PIECES, 6), 0..3),
        bad in unreadable_line(),
        after in proptest::collection::vec(pieces(ADDRESS_PIECES, 6), 0..3),
    ) {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        for header in client_ip_headers() {
            let name = match &header {
                ClientIpHeader::XForwardedFor => "X-Forwarded-For",
                ClientIpHeader::Forwarded => "Forwarded",
                ClientIpHeader::Named(n) => n.as_str(),
            };
            let mut req = testkit::RawRequest::new("GET", "/").with_peer(PEER.parse().unwrap());
            for line in &before {
                req = req.with_header(name, line.as_bytes());
            }
            req = req.with_header(name, bad.clone());
            for line in &after {
                req = req.with_header(name, line.as_bytes());
            }
            prop_assert_eq!(client_ip(&req, &trusted, &header), None, "{:?}", req);
        }
    }

    /// A peer that is not a trusted proxy is the client, whatever its headers say.
    #[test]
    fn untrusted_peer_is_always_the_client(
        lines in proptest::collection::vec((header_name(), header_line(String::new())), 0..5),
        peer in any::<IpAddr>(),
    ) {
        let req = testkit::RawRequest { headers: lines, peer: Some(peer), ..testkit::RawRequest::new("GET", "/") };
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        for header in client_ip_headers() {
            if !in_networks(&trusted, peer) {
                prop_assert_eq!(client_ip(&req, &trusted, &header), Some(peer.to_canonical()));
            }
            prop_assert_eq!(client_ip(&req, &[], &header), Some(peer.to_canonical()));
        }
    }

    /// Path, host and setting parsers never panic on any text.
    #[test]
    fn path_and_host_helpers_never_panic(s in any_text(60)) {
        let _ = path_for_matching(&s);
        let _ = normalize_host(&s);
        let _ = validate_domain(&s);
        let _ = validate_pattern(&s);
        let _ = validate::network(&s);
        let _ = s.parse::<Mode>();
        let _ = testkit::path_is_ambiguous(&s);
    }

    /// Header text is exactly the lines of visible ASCII, spaces and tabs.
    #[test]
    fn header_text_is_visible_ascii_only(line in proptest::collection::vec(any::<u8>(), 0..32)) {
        let text = line.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b));
        prop_assert_eq!(header_text(&line).is_some(), text);
    }
}
