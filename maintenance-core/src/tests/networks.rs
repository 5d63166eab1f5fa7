//! Network exemptions and the client address: internal and allowed networks, trusted
//! proxies and forwarding headers, requests without a peer.

use super::*;

/// The decision for an anonymous `req` to the default site, in maintenance, under the default
/// policy but for its internal networks and trusted proxies.
fn run_with_networks(internal: &[&str], proxies: &[&str], req: &Req) -> Decision {
    let snap = snap(vec![default_site()]);
    run_anon(&snap, &networks_policy(internal, proxies), req)
}

#[test]
fn allowed_networks_v4_and_v6() {
    let mut s = default_site();
    for n in ["192.0.2.0/24", "2001:db8::/32"] {
        s.allowed_networks.push(AllowedNetwork {
            network: n.parse().unwrap(),
            description: String::new(),
        });
    }
    let snap = snap(vec![s]);
    let p = Policy::default();
    for (peer, pass) in [
        ("192.0.2.1", true),
        ("192.0.2.255", true),
        ("192.0.3.1", false),
        ("2001:db8::1", true),
        ("2001:db9::1", false),
        ("::ffff:192.0.2.9", true),
    ] {
        let d = run_from(&snap, &p, peer);
        assert_eq!(d.is_allowed(), pass, "peer {peer}: {d:?}");
        if pass {
            assert_eq!(allowed(&d), Some(AllowReason::AllowedNetwork));
        }
    }
}

#[test]
fn internal_network_v6_cidr() {
    let client = Req::get("/").peer(Some("fd12:3456::1"));
    let d = run_with_networks(&["fd00::/8"], &[], &client);
    assert_eq!(allowed(&d), Some(AllowReason::InternalNetwork));
}

#[test]
fn spoofed_forwarded_for_from_untrusted_peer_gives_nothing() {
    let snap = snap(vec![default_site()]);
    let p = networks_policy(&["10.0.0.0/8"], &["192.168.0.1"]);
    let spoofed = Req::forwarded("203.0.113.9", "10.1.1.1");
    block(run_anon(&snap, &p, &spoofed));
    let via_proxy = Req::forwarded("192.168.0.1", "10.1.1.1");
    assert_eq!(
        allowed(&run_anon(&snap, &p, &via_proxy)),
        Some(AllowReason::InternalNetwork)
    );
    let leftmost_spoof = Req::forwarded("192.168.0.1", "10.1.1.1, 203.0.113.9");
    block(run_anon(&snap, &p, &leftmost_spoof));
}

#[test]
fn trusted_proxy_itself_is_not_an_internal_client_when_it_forwards() {
    // The proxy lives in the internal network; forwarded outside clients must not inherit that.
    let outside = Req::forwarded("10.0.0.1", "198.51.100.4");
    block(run_with_networks(&["10.0.0.0/8"], &["10.0.0.1"], &outside));
}

#[test]
fn no_peer_address_means_no_network_bypass() {
    let no_peer = Req::get("/").peer(None);
    block(run_with_networks(&["0.0.0.0/0", "::/0"], &[], &no_peer));
}
