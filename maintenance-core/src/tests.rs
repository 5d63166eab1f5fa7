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
impl MaintenanceStore for FlakyStore {
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

// Properties: no panic on any input.

fn arb_site() -> impl Strategy<Value = SiteState> {
    (
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(-100i64..100),
        proptest::option::of(-100i64..100),
        proptest::option::of(any::<u32>()),
        proptest::collection::vec(".{0,12}", 0..4),
        proptest::option::of("[a-z0-9]{1,8}"),
    )
        .prop_map(
            |(is_default, read_only, start, end, retry, patterns, secret)| {
                let mut s = site(1, "example.com");
                s.is_default = is_default;
                s.mode = if read_only {
                    Mode::ReadOnly
                } else {
                    Mode::Full
                };
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
                s.bypass_secret_hash = secret.map(|s| hash_secret(&s));
                s
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decide_never_panics(
        s in arb_site(),
        path in "/[ -~]{0,40}",
        host in proptest::option::of("[ -~]{0,30}"),
        xff in proptest::option::of("[ -~]{0,60}"),
        cookie in proptest::option::of("[ -~]{0,80}"),
        accept in proptest::option::of("[ -~]{0,60}"),
        method in "[A-Z]{1,8}",
        who in 0u8..3,
    ) {
        let policy = Policy::builder().trusted_proxies(["0.0.0.0/0"]).internal_networks(["10.0.0.0/8"]).build().unwrap();
        let snap = Snapshot::new(1, vec![s]);
        let mut b = http::Request::builder().method(method.as_str());
        b = b.uri(http::Uri::try_from(path.as_str()).unwrap_or_else(|_| http::Uri::from_static("/")));
        for (name, value) in [("host", &host), ("x-forwarded-for", &xff), ("cookie", &cookie), ("accept", &accept)] {
            if let Some(v) = value
                && let Ok(v) = http::HeaderValue::from_str(v)
            {
                b = b.header(name, v);
            }
        }
        let mut req = b.body(()).unwrap();
        req.extensions_mut().insert(PeerAddr(IpAddr::from([127, 0, 0, 1])));
        let who = [Identity::Anonymous, Identity::Staff, Identity::Superuser][who as usize];
        let d = decide(Some(&snap), &policy, &req, who, t(NOW));
        if let Decision::Block(block) = &d {
            let res = blocked_response(block, &policy, &req);
            prop_assert_eq!(res.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        }
    }

    #[test]
    fn client_ip_never_panics(headers in proptest::collection::vec(("(x-forwarded-for|forwarded|x-real-ip)", "[ -~]{0,80}"), 0..4), trusted in any::<bool>()) {
        let mut b = http::Request::builder().uri("/");
        for (k, v) in &headers {
            if let Ok(v) = http::HeaderValue::from_str(v) {
                b = b.header(k.as_str(), v);
            }
        }
        let mut req = b.body(()).unwrap();
        req.extensions_mut().insert(PeerAddr(IpAddr::from([10, 0, 0, 1])));
        let nets: Vec<ipnet::IpNet> = if trusted { vec!["10.0.0.0/8".parse().unwrap()] } else { vec![] };
        for h in [ClientIpHeader::XForwardedFor, ClientIpHeader::Forwarded, ClientIpHeader::Named(http::HeaderName::from_static("x-real-ip"))] {
            let ip = client_ip(&req, &nets, &h);
            if !trusted {
                prop_assert_eq!(ip, Some(IpAddr::from([10, 0, 0, 1])));
            }
        }
    }

    #[test]
    fn path_and_host_helpers_never_panic(s in "\\PC{0,60}") {
        let _ = path_for_matching(&s);
        let _ = normalize_host(&s);
        let _ = validate_domain(&s);
        let _ = validate_pattern(&s);
        let _ = validate::network(&s);
        let _ = s.parse::<Mode>();
    }
}
