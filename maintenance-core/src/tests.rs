//! Unit tests of the decision order, the live handle, and properties of the parsers.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

use crate::bypass::{hash_secret, sign_cookie};
use crate::*;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).unwrap()
}

const NOW: i64 = 1_800_000_000;

fn site(id: i64, domain: &str) -> SiteState {
    let mut s = SiteState::new(id, domain);
    s.enabled = true;
    s
}

fn default_site() -> SiteState {
    let mut s = site(1, "default");
    s.is_default = true;
    s
}

fn snap(sites: Vec<SiteState>) -> Snapshot {
    Snapshot::new(1, sites)
}

struct Req {
    method: &'static str,
    path: &'static str,
    host: Option<&'static str>,
    peer: Option<&'static str>,
    headers: Vec<(&'static str, String)>,
}

impl Req {
    fn get(path: &'static str) -> Self {
        Req {
            method: "GET",
            path,
            host: None,
            peer: Some("203.0.113.50"),
            headers: Vec::new(),
        }
    }
    fn method(mut self, m: &'static str) -> Self {
        self.method = m;
        self
    }
    fn host(mut self, h: &'static str) -> Self {
        self.host = Some(h);
        self
    }
    fn peer(mut self, p: Option<&'static str>) -> Self {
        self.peer = p;
        self
    }
    fn header(mut self, k: &'static str, v: impl Into<String>) -> Self {
        self.headers.push((k, v.into()));
        self
    }
    fn build(&self) -> http::Request<()> {
        let mut b = http::Request::builder().method(self.method).uri(self.path);
        if let Some(h) = self.host {
            b = b.header("host", h);
        }
        for (k, v) in &self.headers {
            b = b.header(*k, v.as_str());
        }
        let mut r = b.body(()).unwrap();
        if let Some(p) = self.peer {
            r.extensions_mut()
                .insert(PeerAddr(p.parse::<IpAddr>().unwrap()));
        }
        r
    }
}

fn run(snapshot: &Snapshot, policy: &Policy, req: &Req, who: Identity) -> Decision {
    decide(Some(snapshot), policy, &req.build(), who, t(NOW))
}

fn allowed(d: &Decision) -> Option<AllowReason> {
    match d {
        Decision::Allow(r) => Some(*r),
        _ => None,
    }
}

fn block(d: Decision) -> Block {
    match d {
        Decision::Block(b) => b,
        other => panic!("expected a block, got {other:?}"),
    }
}

// The seed's testproject, one case each.

#[test]
fn home_page_passes_when_maintenance_is_off() {
    let mut s = default_site();
    s.enabled = false;
    let d = run(
        &snap(vec![s]),
        &Policy::default(),
        &Req::get("/"),
        Identity::Anonymous,
    );
    assert_eq!(allowed(&d), Some(AllowReason::NotInMaintenance));
}

#[test]
fn anonymous_and_plain_users_are_blocked_when_on() {
    let snap = snap(vec![default_site()]);
    let b = block(run(
        &snap,
        &Policy::default(),
        &Req::get("/"),
        Identity::Anonymous,
    ));
    assert_eq!(b.status, http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(b.reason, BlockReason::Maintenance);
    assert_eq!(b.site_state().unwrap().id, 1);
}

#[test]
fn staff_passes_unless_block_staff() {
    let snap = snap(vec![default_site()]);
    let d = run(&snap, &Policy::default(), &Req::get("/"), Identity::Staff);
    assert_eq!(allowed(&d), Some(AllowReason::Staff));
    let strict = Policy::builder().block_staff(true).build().unwrap();
    block(run(&snap, &strict, &Req::get("/"), Identity::Staff));
}

#[test]
fn superuser_always_passes() {
    let snap = snap(vec![default_site()]);
    let strict = Policy::builder().block_staff(true).build().unwrap();
    for policy in [Policy::default(), strict] {
        let d = run(&snap, &policy, &Req::get("/"), Identity::Superuser);
        assert_eq!(allowed(&d), Some(AllowReason::Superuser));
    }
}

#[test]
fn internal_ips_pass() {
    let snap = snap(vec![default_site()]);
    let policy = Policy::builder()
        .internal_networks(["127.0.0.1"])
        .build()
        .unwrap();
    let d = run(
        &snap,
        &policy,
        &Req::get("/").peer(Some("127.0.0.1")),
        Identity::Anonymous,
    );
    assert_eq!(allowed(&d), Some(AllowReason::InternalNetwork));
    block(run(
        &snap,
        &policy,
        &Req::get("/").peer(Some("127.0.0.2")),
        Identity::Anonymous,
    ));
}

#[test]
fn ignored_page_passes_once_its_pattern_is_added() {
    let mut s = default_site();
    let before = snap(vec![s.clone()]);
    block(run(
        &before,
        &Policy::default(),
        &Req::get("/ignored-page/"),
        Identity::Anonymous,
    ));
    s.ignored_paths.push(IgnoredPath {
        pattern: "^ignored-page/$".into(),
        description: String::new(),
    });
    let after = snap(vec![s]);
    let d = run(
        &after,
        &Policy::default(),
        &Req::get("/ignored-page/"),
        Identity::Anonymous,
    );
    assert_eq!(allowed(&d), Some(AllowReason::IgnoredPath));
    block(run(
        &after,
        &Policy::default(),
        &Req::get("/ignored-page/more"),
        Identity::Anonymous,
    ));
}

#[test]
fn admin_is_ignored_by_default() {
    let snap = snap(vec![default_site()]);
    let d = run(
        &snap,
        &Policy::default(),
        &Req::get("/admin/login/"),
        Identity::Anonymous,
    );
    assert_eq!(allowed(&d), Some(AllowReason::IgnoredPath));
    let none = Policy::builder()
        .ignored_patterns::<_, &str>([])
        .build()
        .unwrap();
    block(run(
        &snap,
        &none,
        &Req::get("/admin/login/"),
        Identity::Anonymous,
    ));
}

#[test]
fn no_site_means_pass() {
    let d = run(
        &snap(vec![site(2, "shop.example")]),
        &Policy::default(),
        &Req::get("/").host("other.example"),
        Identity::Anonymous,
    );
    assert_eq!(allowed(&d), Some(AllowReason::NoSite));
}

// Ours.

#[test]
fn sites_are_chosen_by_host() {
    let mut default = default_site();
    default.enabled = false;
    let shop = site(2, "shop.example.com");
    let snap = snap(vec![default, shop]);
    let p = Policy::default();
    let b = block(run(
        &snap,
        &p,
        &Req::get("/").host("SHOP.example.com.:8443"),
        Identity::Anonymous,
    ));
    assert_eq!(b.site_state().unwrap().domain, "shop.example.com");
    let d = run(
        &snap,
        &p,
        &Req::get("/").host("blog.example.com"),
        Identity::Anonymous,
    );
    assert_eq!(
        allowed(&d),
        Some(AllowReason::NotInMaintenance),
        "unknown host -> default site"
    );
    let d = run(&snap, &p, &Req::get("/"), Identity::Anonymous);
    assert_eq!(
        allowed(&d),
        Some(AllowReason::NotInMaintenance),
        "no host -> default site"
    );
}

#[test]
fn window_edges() {
    let mut s = default_site();
    s.starts_at = Some(t(NOW));
    s.ends_at = Some(t(NOW + 3600));
    let snap = snap(vec![s]);
    let p = Policy::default();
    let req = Req::get("/").build();
    let at = |secs| decide(Some(&snap), &p, &req, Identity::Anonymous, t(secs));
    assert_eq!(
        allowed(&at(NOW - 1)),
        Some(AllowReason::Scheduled { starts_at: t(NOW) })
    );
    let b = block(at(NOW));
    assert_eq!(b.retry_after, Some(3600), "retry-after from the window end");
    let b = block(at(NOW + 3599));
    assert_eq!(b.retry_after, Some(1));
    assert_eq!(allowed(&at(NOW + 3600)), Some(AllowReason::WindowEnded));
}

#[test]
fn retry_after_prefers_the_setting_and_rounds_up() {
    let mut s = default_site();
    s.ends_at = Some(t(NOW) + chrono::Duration::milliseconds(1500));
    assert_eq!(retry_after(&s, t(NOW)), Some(2));
    s.retry_after_secs = Some(90);
    assert_eq!(retry_after(&s, t(NOW)), Some(90));
    s.retry_after_secs = None;
    s.ends_at = None;
    assert_eq!(retry_after(&s, t(NOW)), None);
}

#[test]
fn open_ended_windows() {
    let mut from = default_site();
    from.starts_at = Some(t(NOW + 10));
    let mut until = default_site();
    until.ends_at = Some(t(NOW - 10));
    let p = Policy::default();
    assert!(matches!(
        run(&snap(vec![from]), &p, &Req::get("/"), Identity::Anonymous),
        Decision::Allow(AllowReason::Scheduled { .. })
    ));
    assert_eq!(
        allowed(&run(
            &snap(vec![until]),
            &p,
            &Req::get("/"),
            Identity::Anonymous
        )),
        Some(AllowReason::WindowEnded)
    );
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
        let d = run(
            &snap,
            &p,
            &Req::get("/").peer(Some(peer)),
            Identity::Anonymous,
        );
        assert_eq!(d.is_allowed(), pass, "peer {peer}: {d:?}");
        if pass {
            assert_eq!(allowed(&d), Some(AllowReason::AllowedNetwork));
        }
    }
}

#[test]
fn internal_network_v6_cidr() {
    let snap = snap(vec![default_site()]);
    let p = Policy::builder()
        .internal_networks(["fd00::/8"])
        .build()
        .unwrap();
    let d = run(
        &snap,
        &p,
        &Req::get("/").peer(Some("fd12:3456::1")),
        Identity::Anonymous,
    );
    assert_eq!(allowed(&d), Some(AllowReason::InternalNetwork));
}

#[test]
fn spoofed_forwarded_for_from_untrusted_peer_gives_nothing() {
    let snap = snap(vec![default_site()]);
    let p = Policy::builder()
        .internal_networks(["10.0.0.0/8"])
        .trusted_proxies(["192.168.0.1"])
        .build()
        .unwrap();
    let spoofed = Req::get("/")
        .peer(Some("203.0.113.9"))
        .header("x-forwarded-for", "10.1.1.1");
    block(run(&snap, &p, &spoofed, Identity::Anonymous));
    let via_proxy = Req::get("/")
        .peer(Some("192.168.0.1"))
        .header("x-forwarded-for", "10.1.1.1");
    assert_eq!(
        allowed(&run(&snap, &p, &via_proxy, Identity::Anonymous)),
        Some(AllowReason::InternalNetwork)
    );
    let leftmost_spoof = Req::get("/")
        .peer(Some("192.168.0.1"))
        .header("x-forwarded-for", "10.1.1.1, 203.0.113.9");
    block(run(&snap, &p, &leftmost_spoof, Identity::Anonymous));
}

#[test]
fn trusted_proxy_itself_is_not_an_internal_client_when_it_forwards() {
    // The proxy lives in the internal network; forwarded outside clients must not inherit that.
    let snap = snap(vec![default_site()]);
    let p = Policy::builder()
        .internal_networks(["10.0.0.0/8"])
        .trusted_proxies(["10.0.0.1"])
        .build()
        .unwrap();
    let r = Req::get("/")
        .peer(Some("10.0.0.1"))
        .header("x-forwarded-for", "198.51.100.4");
    block(run(&snap, &p, &r, Identity::Anonymous));
}

#[test]
fn read_only_lets_safe_methods_through() {
    let mut s = default_site();
    s.mode = Mode::ReadOnly;
    let snap = snap(vec![s]);
    let p = Policy::default();
    for m in ["GET", "HEAD", "OPTIONS"] {
        let d = run(&snap, &p, &Req::get("/").method(m), Identity::Anonymous);
        assert_eq!(allowed(&d), Some(AllowReason::ReadOnlySafeMethod), "{m}");
    }
    for m in ["POST", "PUT", "PATCH", "DELETE"] {
        let b = block(run(
            &snap,
            &p,
            &Req::get("/").method(m),
            Identity::Anonymous,
        ));
        assert_eq!(b.reason, BlockReason::ReadOnly, "{m}");
    }
}

#[test]
fn read_only_compares_methods_exactly() {
    let mut s = default_site();
    s.mode = Mode::ReadOnly;
    let snap = snap(vec![s]);
    let p = Policy::default();
    for m in ["get", "Get", "head", "options", "GETX"] {
        let b = block(run(
            &snap,
            &p,
            &Req::get("/").method(m),
            Identity::Anonymous,
        ));
        assert_eq!(b.reason, BlockReason::ReadOnly, "{m}");
    }
}

#[test]
fn bypass_link_needs_exactly_get() {
    let mut s = default_site();
    s.bypass_secret_hash = Some(hash_secret("open-sesame"));
    let snap = snap(vec![s]);
    let p = Policy::default();
    let link = Req::get("/_maintenance/bypass/open-sesame");
    assert!(matches!(
        run(&snap, &p, &link, Identity::Anonymous),
        Decision::Bypass(_)
    ));
    block(run(&snap, &p, &link.method("get"), Identity::Anonymous));
}

fn two_sites(shop_on: bool, default_on: bool) -> Snapshot {
    let mut d = default_site();
    d.enabled = default_on;
    let mut shop = site(2, "shop.example");
    shop.enabled = shop_on;
    let mut blog = site(3, "blog.example");
    blog.enabled = false;
    snap(vec![d, shop, blog])
}

fn absolute(uri: &str, host: &str) -> http::Request<()> {
    let mut r = http::Request::builder()
        .uri(uri)
        .header("host", host)
        .body(())
        .unwrap();
    r.extensions_mut()
        .insert(PeerAddr("203.0.113.50".parse().unwrap()));
    r
}

#[test]
fn absolute_form_target_names_the_site() {
    let snap = two_sites(true, false);
    let p = Policy::default();
    let d = decide(
        Some(&snap),
        &p,
        &absolute("http://shop.example/", "shop.example"),
        Identity::Anonymous,
        t(NOW),
    );
    assert_eq!(block(d).site_state().unwrap().domain, "shop.example");
}

#[test]
fn conflicting_host_and_target_pass_only_if_both_sites_let_them() {
    let p = Policy::default();
    let on_shop = two_sites(true, false);
    for (uri, host) in [
        ("http://shop.example/", "blog.example"),
        ("http://blog.example/", "shop.example"),
        ("http://blog.example/", "SHOP.example:80"),
    ] {
        let d = decide(
            Some(&on_shop),
            &p,
            &absolute(uri, host),
            Identity::Anonymous,
            t(NOW),
        );
        assert_eq!(
            block(d).site_state().unwrap().domain,
            "shop.example",
            "{uri} with Host {host}"
        );
    }
    let d = decide(
        Some(&on_shop),
        &p,
        &absolute("http://blog.example/", "blog.example:443"),
        Identity::Anonymous,
        t(NOW),
    );
    assert_eq!(allowed(&d), Some(AllowReason::NotInMaintenance));
}

#[test]
fn two_host_lines_pass_only_if_both_sites_let_them() {
    let snap = two_sites(true, false);
    let r = Req::get("/")
        .host("blog.example")
        .header("host", "shop.example");
    let d = run(&snap, &Policy::default(), &r, Identity::Anonymous);
    assert_eq!(block(d).site_state().unwrap().domain, "shop.example");
}

#[test]
fn unknown_host_gets_the_default_site_or_the_strictest() {
    let snap = two_sites(true, false);
    let r = Req::get("/").host("made-up.example");
    let d = run(&snap, &Policy::default(), &r, Identity::Anonymous);
    assert_eq!(allowed(&d), Some(AllowReason::NotInMaintenance));
    let no_host = Req::get("/");
    let d = run(&snap, &Policy::default(), &no_host, Identity::Anonymous);
    assert_eq!(allowed(&d), Some(AllowReason::NotInMaintenance));

    let strict = Policy::builder()
        .unknown_host(UnknownHost::Strictest)
        .build()
        .unwrap();
    for req in [&r, &no_host] {
        let d = run(&snap, &strict, req, Identity::Anonymous);
        assert_eq!(block(d).site_state().unwrap().domain, "shop.example");
        // Exemptions still hold on the strictest site; the default site's state decides then.
        let d = run(&snap, &strict, req, Identity::Superuser);
        assert!(d.is_allowed(), "{d:?}");
    }
    // A known host is not affected by another site's maintenance.
    let blog = Req::get("/").host("blog.example");
    let d = run(&snap, &strict, &blog, Identity::Anonymous);
    assert_eq!(allowed(&d), Some(AllowReason::NotInMaintenance));
    // A window that has not started does not count.
    let mut later = two_sites(true, false);
    later = Snapshot::new(
        2,
        later
            .sites()
            .map(|s| {
                let mut st = s.state().clone();
                if st.id == 2 {
                    st.starts_at = Some(t(NOW + 60));
                }
                st
            })
            .collect(),
    );
    let d = run(&later, &strict, &r, Identity::Anonymous);
    assert_eq!(allowed(&d), Some(AllowReason::NotInMaintenance));
    // With the default site in maintenance, an unknown host is blocked either way.
    let both = two_sites(false, true);
    let d = run(&both, &strict, &r, Identity::Anonymous);
    assert_eq!(block(d).site_state().unwrap().domain, "default");
}

#[test]
fn debug_of_decisions_never_shows_secrets() {
    let mut s = default_site();
    let hash = hash_secret("open-sesame");
    s.bypass_secret_hash = Some(hash.clone());
    let snap = snap(vec![s.clone()]);
    let p = Policy::builder()
        .bypass_signing_key(b"signing-key-0123456789".to_vec())
        .build()
        .unwrap();
    let blocked = run(&snap, &p, &Req::get("/"), Identity::Anonymous);
    let Decision::Block(b) = &blocked else {
        panic!("expected a block, got {blocked:?}")
    };
    let link = run(
        &snap,
        &p,
        &Req::get("/_maintenance/bypass/open-sesame"),
        Identity::Anonymous,
    );
    let Decision::Bypass(grant) = &link else {
        panic!("expected a bypass, got {link:?}")
    };
    let cookie_value = grant
        .set_cookie
        .split(';')
        .next()
        .and_then(|c| c.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap();
    let hex_digest = hash.trim_start_matches("sha256:").to_owned();
    let shown = format!("{blocked:?} {b:?} {link:?} {s:?} {p:?} {snap:?}");
    for secret in [
        "open-sesame",
        hex_digest.as_str(),
        "signing-key",
        cookie_value.as_str(),
    ] {
        assert!(!shown.contains(secret), "`{secret}` shown in {shown}");
    }
    assert!(shown.contains("<redacted>"));
}

#[test]
fn full_mode_blocks_head_and_options_too() {
    let snap = snap(vec![default_site()]);
    for m in ["HEAD", "OPTIONS"] {
        block(run(
            &snap,
            &Policy::default(),
            &Req::get("/").method(m),
            Identity::Anonymous,
        ));
    }
}

fn secret_site() -> (Snapshot, &'static str) {
    let mut s = default_site();
    s.bypass_secret_hash = Some(hash_secret("open-sesame"));
    (snap(vec![s]), "open-sesame")
}

#[test]
fn bypass_link_sets_cookie_then_cookie_passes() {
    let (snap, _) = secret_site();
    let p = Policy::default();
    let grant = match run(
        &snap,
        &p,
        &Req::get("/_maintenance/bypass/open-sesame"),
        Identity::Anonymous,
    ) {
        Decision::Bypass(g) => g,
        other => panic!("expected a grant, got {other:?}"),
    };
    let cookie = grant.set_cookie.split(';').next().unwrap().to_owned();
    let d = run(
        &snap,
        &p,
        &Req::get("/").header("cookie", format!("theme=dark; {cookie}")),
        Identity::Anonymous,
    );
    assert_eq!(allowed(&d), Some(AllowReason::BypassCookie));
}

#[test]
fn wrong_secret_link_and_forged_cookie_are_blocked() {
    let (snap, _) = secret_site();
    let p = Policy::default();
    block(run(
        &snap,
        &p,
        &Req::get("/_maintenance/bypass/guess"),
        Identity::Anonymous,
    ));
    block(run(
        &snap,
        &p,
        &Req::get("/_maintenance/bypass/open-sesame").method("POST"),
        Identity::Anonymous,
    ));
    let forged = sign_cookie(None, &hash_secret("other"), 1, t(NOW + 100));
    block(run(
        &snap,
        &p,
        &Req::get("/").header("cookie", format!("maintenance_bypass={forged}")),
        Identity::Anonymous,
    ));
    let expired = sign_cookie(None, &hash_secret("open-sesame"), 1, t(NOW - 1));
    block(run(
        &snap,
        &p,
        &Req::get("/").header("cookie", format!("maintenance_bypass={expired}")),
        Identity::Anonymous,
    ));
}

#[test]
fn bypass_header_passes_with_the_secret_only() {
    let (snap, secret) = secret_site();
    let p = Policy::default();
    let d = run(
        &snap,
        &p,
        &Req::get("/api").header("x-maintenance-bypass", secret),
        Identity::Anonymous,
    );
    assert_eq!(allowed(&d), Some(AllowReason::BypassHeader));
    block(run(
        &snap,
        &p,
        &Req::get("/api").header("x-maintenance-bypass", "nope"),
        Identity::Anonymous,
    ));
}

#[test]
fn no_secret_set_means_no_bypass() {
    let snap = snap(vec![default_site()]);
    let p = Policy::default();
    block(run(
        &snap,
        &p,
        &Req::get("/_maintenance/bypass/x"),
        Identity::Anonymous,
    ));
    block(run(
        &snap,
        &p,
        &Req::get("/").header("x-maintenance-bypass", "x"),
        Identity::Anonymous,
    ));
}

#[test]
fn bad_pattern_in_store_is_skipped_others_still_work() {
    let mut s = default_site();
    for p in ["^(broken", "^healthz$"] {
        s.ignored_paths.push(IgnoredPath {
            pattern: p.into(),
            description: String::new(),
        });
    }
    let snap = snap(vec![s]);
    assert_eq!(snap.skipped().len(), 1);
    assert!(snap.skipped()[0].to_string().contains("^(broken"));
    let p = Policy::default();
    assert_eq!(
        allowed(&run(&snap, &p, &Req::get("/healthz"), Identity::Anonymous)),
        Some(AllowReason::IgnoredPath)
    );
    block(run(&snap, &p, &Req::get("/other"), Identity::Anonymous));
}

#[test]
fn traversal_never_gets_a_path_bypass() {
    let snap = snap(vec![default_site()]);
    for path in ["/admin/../shop", "/admin%2f..%2fshop", "/admin/%2e%2e/shop"] {
        let req = http::Request::builder().uri(path).body(()).unwrap();
        let d = decide(
            Some(&snap),
            &Policy::default(),
            &req,
            Identity::Anonymous,
            t(NOW),
        );
        assert!(matches!(d, Decision::Block(_)), "{path}: {d:?}");
    }
}

#[test]
fn order_networks_before_identity_before_path() {
    let (snap, secret) = secret_site();
    let p = Policy::builder()
        .internal_networks(["127.0.0.1"])
        .build()
        .unwrap();
    let everything = Req::get("/admin/")
        .peer(Some("127.0.0.1"))
        .header("x-maintenance-bypass", secret);
    assert_eq!(
        allowed(&run(&snap, &p, &everything, Identity::Superuser)),
        Some(AllowReason::InternalNetwork)
    );
    let no_net = Req::get("/admin/").header("x-maintenance-bypass", secret);
    assert_eq!(
        allowed(&run(&snap, &p, &no_net, Identity::Superuser)),
        Some(AllowReason::Superuser)
    );
    assert_eq!(
        allowed(&run(&snap, &p, &no_net, Identity::Anonymous)),
        Some(AllowReason::IgnoredPath)
    );
    let api = Req::get("/api").header("x-maintenance-bypass", secret);
    assert_eq!(
        allowed(&run(&snap, &p, &api, Identity::Anonymous)),
        Some(AllowReason::BypassHeader)
    );
}

#[test]
fn fail_mode_without_snapshot() {
    let req = Req::get("/").build();
    let open = decide(None, &Policy::default(), &req, Identity::Anonymous, t(NOW));
    assert_eq!(allowed(&open), Some(AllowReason::NoSnapshot));
    let closed_policy = Policy::builder()
        .fail_mode(FailMode::Closed)
        .build()
        .unwrap();
    let closed = block(decide(
        None,
        &closed_policy,
        &req,
        Identity::Anonymous,
        t(NOW),
    ));
    assert_eq!(closed.reason, BlockReason::NoSnapshot);
    assert!(closed.site.is_none());
}

#[test]
fn custom_status_is_used() {
    let p = Policy::builder().status(502).build().unwrap();
    let b = block(run(
        &snap(vec![default_site()]),
        &p,
        &Req::get("/"),
        Identity::Anonymous,
    ));
    assert_eq!(b.status.as_u16(), 502);
}

#[test]
fn no_peer_address_means_no_network_bypass() {
    let snap = snap(vec![default_site()]);
    let p = Policy::builder()
        .internal_networks(["0.0.0.0/0", "::/0"])
        .build()
        .unwrap();
    block(run(
        &snap,
        &p,
        &Req::get("/").peer(None),
        Identity::Anonymous,
    ));
}

// The live handle.

#[derive(Default)]
struct FlakyStore {
    inner: MemoryStore,
    down: AtomicBool,
    /// Hands out the memory store's change feed (when up) instead of none.
    feed: bool,
}

impl FlakyStore {
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::backend(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "database down",
            )))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl MaintenanceSource for FlakyStore {
    async fn load(&self) -> Result<StoreContents, StoreError> {
        self.check()?;
        self.inner.load().await
    }
    async fn revision(&self) -> Result<i64, StoreError> {
        self.check()?;
        self.inner.revision().await
    }
    async fn subscribe(&self) -> Result<Option<ChangeFeed>, StoreError> {
        if !self.feed {
            return Ok(None);
        }
        self.check()?;
        self.inner.subscribe().await
    }
}

#[async_trait]
impl MaintenanceStore for FlakyStore {
    async fn add_site(&self, d: &str, n: Option<&str>, a: &str) -> Result<SiteState, StoreError> {
        self.inner.add_site(d, n, a).await
    }
    async fn remove_site(&self, d: &str, a: &str) -> Result<(), StoreError> {
        self.inner.remove_site(d, a).await
    }
    async fn set_state(
        &self,
        s: &SiteRef,
        c: &StateChange,
        a: &str,
    ) -> Result<SiteState, StoreError> {
        self.inner.set_state(s, c, a).await
    }
    async fn add_ignored_path(
        &self,
        s: &SiteRef,
        p: &str,
        d: &str,
        a: &str,
    ) -> Result<(), StoreError> {
        self.inner.add_ignored_path(s, p, d, a).await
    }
    async fn remove_ignored_path(&self, s: &SiteRef, p: &str, a: &str) -> Result<(), StoreError> {
        self.inner.remove_ignored_path(s, p, a).await
    }
    async fn add_allowed_network(
        &self,
        s: &SiteRef,
        n: &str,
        d: &str,
        a: &str,
    ) -> Result<(), StoreError> {
        self.inner.add_allowed_network(s, n, d, a).await
    }
    async fn remove_allowed_network(
        &self,
        s: &SiteRef,
        n: &str,
        a: &str,
    ) -> Result<(), StoreError> {
        self.inner.remove_allowed_network(s, n, a).await
    }
    async fn set_bypass_secret_hash(
        &self,
        s: &SiteRef,
        h: Option<&str>,
        a: &str,
    ) -> Result<(), StoreError> {
        self.inner.set_bypass_secret_hash(s, h, a).await
    }
    async fn events(&self, s: Option<&SiteRef>, l: u32) -> Result<Vec<Event>, StoreError> {
        self.inner.events(s, l).await
    }
}

fn fast_policy() -> PolicyBuilder {
    // With a signing key, so that the only warnings are the ones the tests look for.
    Policy::builder()
        .poll_interval(Duration::from_millis(20))
        .feed_poll_interval(Duration::from_millis(50))
        .bypass_signing_key(b"0123456789abcdef0123456789abcdef".to_vec())
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

fn home() -> http::Request<()> {
    http::Request::builder().uri("/").body(()).unwrap()
}

#[tokio::test]
async fn handle_follows_the_change_feed() {
    let store = Arc::new(MemoryStore::new());
    let policy = Policy::builder()
        .poll_interval(Duration::from_secs(3600))
        .feed_poll_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let m = Maintenance::start(store.clone(), policy).await;
    assert!(m.check(&home(), Identity::Anonymous).is_allowed());
    store
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
        .await
        .unwrap();
    eventually("the feed to bring the change", || {
        !m.check(&home(), Identity::Anonymous).is_allowed()
    })
    .await;
}

#[tokio::test]
async fn handle_polls_without_a_feed_and_keeps_last_state_when_store_fails() {
    let store = Arc::new(FlakyStore::default());
    let m = Maintenance::start(store.clone(), fast_policy().build().unwrap()).await;
    assert_eq!(m.revision(), Some(1));
    store
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
        .await
        .unwrap();
    eventually("polling to bring the change", || {
        !m.check(&home(), Identity::Anonymous).is_allowed()
    })
    .await;

    store.down.store(true, Ordering::SeqCst);
    let failures = m.stats().1;
    eventually("a failed refresh", || m.stats().1 > failures).await;
    assert!(m.refresh().await.is_err());
    assert!(
        !m.check(&home(), Identity::Anonymous).is_allowed(),
        "last known state keeps serving"
    );

    store
        .set_state(&SiteRef::Default, &StateChange::turn_off(), "t")
        .await
        .unwrap();
    store.down.store(false, Ordering::SeqCst);
    eventually("recovery", || {
        m.check(&home(), Identity::Anonymous).is_allowed()
    })
    .await;
}

#[tokio::test]
async fn fail_mode_applies_until_the_first_load() {
    let store = Arc::new(FlakyStore::default());
    store
        .inner
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
        .await
        .unwrap();
    store.down.store(true, Ordering::SeqCst);
    let closed = Maintenance::start(
        store.clone(),
        fast_policy().fail_mode(FailMode::Closed).build().unwrap(),
    )
    .await;
    let open = Maintenance::start(store.clone(), fast_policy().build().unwrap()).await;
    assert!(closed.snapshot().is_none());
    assert!(matches!(
        closed.check(&home(), Identity::Anonymous),
        Decision::Block(Block {
            reason: BlockReason::NoSnapshot,
            ..
        })
    ));
    assert!(matches!(
        open.check(&home(), Identity::Anonymous),
        Decision::Allow(AllowReason::NoSnapshot)
    ));
    store.down.store(false, Ordering::SeqCst);
    eventually("first load", || {
        open.snapshot().is_some() && closed.snapshot().is_some()
    })
    .await;
    let d = open.check(&home(), Identity::Anonymous);
    assert!(
        matches!(
            d,
            Decision::Block(Block {
                reason: BlockReason::Maintenance,
                ..
            })
        ),
        "{d:?}"
    );
}

#[tokio::test]
async fn checks_make_no_store_calls() {
    let store = testkit::CountingStore::new(MemoryStore::new());
    store
        .inner()
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
        .await
        .unwrap();
    let policy = Policy::builder()
        .poll_interval(Duration::from_secs(3600))
        .feed_poll_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let m = Maintenance::start(store.clone(), policy).await;
    let before = store.calls();
    let req = home();
    for _ in 0..10_000 {
        assert!(!m.check(&req, Identity::Anonymous).is_allowed());
    }
    assert_eq!(store.calls(), before);
}

#[tokio::test]
async fn dropping_the_handle_stops_the_refresher() {
    let store = testkit::CountingStore::new(MemoryStore::new());
    let m = Maintenance::start(store.clone(), fast_policy().build().unwrap()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(m);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after_drop = store.calls();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        store.calls(),
        after_drop,
        "no calls after the handle is gone"
    );
}

/// The log lines of the running test's thread: level and message.
#[derive(Clone, Default)]
struct Logs {
    lines: Arc<std::sync::Mutex<Vec<(tracing::Level, String)>>>,
}

impl Logs {
    /// Captures what is logged on this thread (a current-thread runtime runs every task of
    /// the test on it) until the guard is dropped.
    fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        use tracing_subscriber::layer::SubscriberExt;
        // Whether a log statement is on is cached for every thread, from the subscribers alive
        // when it is first reached or when one is added: a test on another thread, with no
        // subscriber, could turn statements off for this one. A global subscriber that keeps
        // every statement asking at each event prevents that.
        static GLOBAL: std::sync::Once = std::sync::Once::new();
        GLOBAL.call_once(|| {
            let _ = tracing::subscriber::set_global_default(AskEachTime);
        });
        let logs = Logs::default();
        let guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(logs.clone()));
        (logs, guard)
    }

    fn count(&self, level: tracing::Level, containing: &str) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|(l, m)| *l == level && m.contains(containing))
            .count()
    }
}

/// A subscriber that records nothing but never lets a log statement be cached as off.
struct AskEachTime;

impl tracing::Subscriber for AskEachTime {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        false
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Logs {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        self.lines
            .lock()
            .unwrap()
            .push((*event.metadata().level(), message.0));
    }
}

#[tokio::test]
async fn failures_are_logged_once_per_outage_not_once_per_poll() {
    use tracing::Level;
    let (logs, _guard) = Logs::capture();
    let store = Arc::new(FlakyStore {
        feed: true,
        ..FlakyStore::default()
    });
    store.down.store(true, Ordering::SeqCst);
    let m = Maintenance::start(store.clone(), fast_policy().build().unwrap()).await;

    // Down at start-up: polls and subscriptions keep failing, one error says so.
    eventually("ten failed polls", || m.stats().1 >= 10).await;
    assert_eq!(logs.count(Level::ERROR, ""), 1, "one error at start-up");
    assert_eq!(
        logs.count(Level::WARN, ""),
        0,
        "no warning per poll or subscription"
    );
    assert!(logs.count(Level::DEBUG, "still unreachable") >= 5);
    store.down.store(false, Ordering::SeqCst);
    eventually("the first load", || m.snapshot().is_some()).await;
    eventually("the recovery logged", || {
        logs.count(Level::INFO, "reachable again") == 1
    })
    .await;

    // Down again while following the feed: one warning, however many polls fail.
    store.down.store(true, Ordering::SeqCst);
    let failures = m.stats().1;
    eventually("ten more failed polls", || m.stats().1 >= failures + 10).await;
    assert_eq!(logs.count(Level::WARN, ""), 1, "one warning for the outage");
    assert_eq!(
        logs.count(Level::WARN, "serving the last known state"),
        1,
        "it says the last state keeps serving"
    );
    store.down.store(false, Ordering::SeqCst);
    eventually("the second recovery logged", || {
        logs.count(Level::INFO, "reachable again") == 2
    })
    .await;
    assert_eq!(logs.count(Level::ERROR, ""), 1);
    assert_eq!(logs.count(Level::WARN, ""), 1);
}

#[tokio::test]
async fn an_outage_before_the_first_load_warns_with_the_fail_mode() {
    use tracing::Level;
    let (logs, _guard) = Logs::capture();
    let store = Arc::new(FlakyStore::default());
    store.down.store(true, Ordering::SeqCst);
    // No start(): the refresher alone finds the store down.
    let m = Maintenance::new(
        store.clone(),
        fast_policy().fail_mode(FailMode::Closed).build().unwrap(),
    );
    m.spawn_refresher();
    eventually("five failed polls", || m.stats().1 >= 5).await;
    assert_eq!(logs.count(Level::WARN, "the fail mode applies"), 1);
    assert_eq!(logs.count(Level::WARN, ""), 1);
    assert!(matches!(
        m.check(&home(), Identity::Anonymous),
        Decision::Block(Block {
            reason: BlockReason::NoSnapshot,
            ..
        })
    ));
    store.down.store(false, Ordering::SeqCst);
    eventually("the first load", || {
        m.check(&home(), Identity::Anonymous).is_allowed()
    })
    .await;
    eventually("the recovery logged", || {
        logs.count(Level::INFO, "reachable again") == 1
    })
    .await;
}

/// Properties over arbitrary input: any text where the request view gives text, any bytes in
/// header lines. Generators mix fully arbitrary values with pieces that reach the interesting
/// branches (addresses, the peer itself, encoded dots, the bypass secret, a valid cookie),
/// since random bytes alone almost never form an address or a site's domain. CI runs this
/// module again with a raised `PROPTEST_CASES`.
mod properties {
    use super::*;

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

    /// Any characters at all, control characters and non-ASCII included (`any::<String>()` leaves
    /// control characters out).
    fn any_text(max: usize) -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            proptest::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter),
        ]
    }

    /// Text made of pieces that matter to the decision, with arbitrary text between them.
    fn pieces(list: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![3 => proptest::sample::select(list).prop_map(str::to_owned), 1 => any_text(6)],
            0..max,
        )
        .prop_map(|parts| parts.concat())
    }

    const SECRET: &str = "open-sesame";
    const PEER: &str = "10.0.0.2";

    const PATH_PIECES: &[&str] = &[
        "/",
        "/",
        "admin",
        "static",
        "api",
        ".",
        "..",
        "%2e",
        "%2E",
        "%2f",
        "%5c",
        "%25",
        "%",
        ";",
        "%3b",
        "\\",
        "%00",
        "\0",
        "é",
        "%C3%A9",
        "%c3",
        "%zz",
        "_maintenance",
        "bypass",
        SECRET,
    ];

    const ADDRESS_PIECES: &[&str] = &[
        PEER,
        "::ffff:10.0.0.2",
        "[::ffff:10.0.0.2]:443",
        "10.0.0.3",
        "203.0.113.9",
        "203.0.113.9:5555",
        "198.51.100.7",
        "2001:db8::1",
        "[2001:db8::1]:80",
        "\"[2001:db8::1]\"",
        "for=",
        "For=",
        "proto=https",
        "by=10.0.0.3",
        "unknown",
        "_hidden",
        ",",
        ", ",
        ";",
        " ",
        "\t",
        "\"",
    ];

    const HEADER_NAMES: &[&str] = &[
        "host",
        "Host",
        "x-forwarded-for",
        "X-Forwarded-For",
        "forwarded",
        "x-real-ip",
        "cookie",
        "accept",
        "content-type",
        "x-maintenance-bypass",
    ];

    /// A header line: arbitrary bytes, or pieces of addresses and cookies that may hold a byte
    /// of any value.
    fn header_line(valid_cookie: String) -> impl Strategy<Value = Vec<u8>> {
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
    fn client_ip_line() -> impl Strategy<Value = (String, Vec<u8>)> {
        prop_oneof![
            3 => (
                proptest::sample::select(vec!["x-forwarded-for", "Forwarded", "x-real-ip"]),
                forwarding_line(),
            )
                .prop_map(|(name, line)| (name.to_owned(), line)),
            1 => (header_name(), header_line(String::new())),
        ]
    }

    fn header_name() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => proptest::sample::select(HEADER_NAMES).prop_map(str::to_owned),
            1 => any_text(12),
        ]
    }

    fn peer_addr() -> impl Strategy<Value = Option<IpAddr>> {
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
    fn raw_request() -> impl Strategy<Value = testkit::RawRequest> {
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
    fn policy() -> impl Strategy<Value = Policy> {
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
            proptest::collection::vec(prop_oneof![any_text(12), Just(String::new())], 0..4),
            proptest::collection::vec(network(), 0..3),
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
                    s.ignored_paths = patterns
                        .into_iter()
                        .map(|pattern| IgnoredPath {
                            pattern,
                            description: String::new(),
                        })
                        .collect();
                    s.allowed_networks = networks
                        .into_iter()
                        .map(|network| AllowedNetwork {
                            network,
                            description: String::new(),
                        })
                        .collect();
                    s.bypass_secret_hash = secret.map(|s| hash_secret(&s));
                    s
                },
            )
    }

    /// Up to three sites under the domains the requests name, ids distinct.
    fn arb_snapshot() -> impl Strategy<Value = Option<Snapshot>> {
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

    fn identity() -> impl Strategy<Value = Identity> {
        proptest::sample::select(vec![
            Identity::Anonymous,
            Identity::Staff,
            Identity::Superuser,
        ])
    }

    /// A forwarding header line holding at least one byte that is not text.
    fn unreadable_line() -> impl Strategy<Value = Vec<u8>> {
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

    fn client_ip_headers() -> [ClientIpHeader; 3] {
        [
            ClientIpHeader::XForwardedFor,
            ClientIpHeader::Forwarded,
            ClientIpHeader::Named(http::HeaderName::from_static("x-real-ip")),
        ]
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
}

/// A source that can only read: all a handle needs.
struct ReadOnlySource(Arc<MemoryStore>);

#[async_trait]
impl MaintenanceSource for ReadOnlySource {
    async fn load(&self) -> Result<StoreContents, StoreError> {
        self.0.load().await
    }
    async fn revision(&self) -> Result<i64, StoreError> {
        self.0.revision().await
    }
}

#[tokio::test]
async fn a_handle_follows_a_source_that_cannot_write() {
    let store = Arc::new(MemoryStore::new());
    let m = Maintenance::start(
        ReadOnlySource(store.clone()),
        fast_policy().build().unwrap(),
    )
    .await;
    assert!(m.check(&home(), Identity::Anonymous).is_allowed());
    store
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
        .await
        .unwrap();
    eventually("polling to bring the change", || {
        !m.check(&home(), Identity::Anonymous).is_allowed()
    })
    .await;
    assert_eq!(m.source().revision().await.unwrap(), 2);
}

#[tokio::test]
async fn a_handle_takes_a_store_by_value_or_shared() {
    let by_value = Maintenance::start(MemoryStore::new(), Policy::default()).await;
    assert_eq!(by_value.revision(), Some(1));
    let shared: Arc<dyn MaintenanceStore> = Arc::new(MemoryStore::new());
    let handle = Maintenance::start(shared.clone(), fast_policy().build().unwrap()).await;
    shared
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
        .await
        .unwrap();
    eventually("the feed to bring the change", || {
        !handle.check(&home(), Identity::Anonymous).is_allowed()
    })
    .await;
}
