//! Which site a request belongs to (host, target authority, unknown hosts) and when its
//! maintenance window is open.

use super::*;

#[test]
fn sites_are_chosen_by_host() {
    let mut default = default_site();
    default.enabled = false;
    let shop = site(2, "shop.example.com");
    let snap = snap(vec![default, shop]);
    let p = Policy::default();
    let b = block(run_anon(
        &snap,
        &p,
        &Req::get("/").host("SHOP.example.com.:8443"),
    ));
    assert_eq!(b.site_state().unwrap().domain, "shop.example.com");
    let d = run_anon(&snap, &p, &Req::get("/").host("blog.example.com"));
    assert_eq!(
        allowed(&d),
        Some(AllowReason::NotInMaintenance),
        "unknown host -> default site"
    );
    let d = run_anon(&snap, &p, &Req::get("/"));
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
        run_anon(&snap(vec![from]), &p, &Req::get("/")),
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

/// The default site and `shop.example` (id 2), each in maintenance or not.
fn default_and_shop(default_on: bool, shop_on: bool) -> Vec<SiteState> {
    let mut default = default_site();
    default.enabled = default_on;
    let mut shop = site(2, "shop.example");
    shop.enabled = shop_on;
    vec![default, shop]
}

fn two_sites(shop_on: bool, default_on: bool) -> Snapshot {
    let mut sites = default_and_shop(default_on, shop_on);
    let mut blog = site(3, "blog.example");
    blog.enabled = false;
    sites.push(blog);
    snap(sites)
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

/// The decision on an anonymous request for the absolute-form `uri` with a `Host` line, with
/// the default policy.
fn decide_absolute(snap: &Snapshot, uri: &str, host: &str) -> Decision {
    decide_now(snap, &absolute(uri, host))
}

#[test]
fn absolute_form_target_names_the_site() {
    let snap = two_sites(true, false);
    let d = decide_absolute(&snap, "http://shop.example/", "shop.example");
    assert_eq!(block(d).site_state().unwrap().domain, "shop.example");
}

#[test]
fn conflicting_host_and_target_pass_only_if_both_sites_let_them() {
    let on_shop = two_sites(true, false);
    for (uri, host) in [
        ("http://shop.example/", "blog.example"),
        ("http://blog.example/", "shop.example"),
        ("http://blog.example/", "SHOP.example:80"),
    ] {
        let d = decide_absolute(&on_shop, uri, host);
        assert_eq!(
            block(d).site_state().unwrap().domain,
            "shop.example",
            "{uri} with Host {host}"
        );
    }
    let d = decide_absolute(&on_shop, "http://blog.example/", "blog.example:443");
    assert_eq!(allowed(&d), Some(AllowReason::NotInMaintenance));
}

#[test]
fn two_host_lines_pass_only_if_both_sites_let_them() {
    let snap = two_sites(true, false);
    let r = Req::get("/")
        .host("blog.example")
        .header("host", "shop.example");
    let d = run_anon(&snap, &Policy::default(), &r);
    assert_eq!(block(d).site_state().unwrap().domain, "shop.example");
}

#[test]
fn unknown_host_gets_the_default_site_or_the_strictest() {
    let snap = two_sites(true, false);
    let r = Req::get("/").host("made-up.example");
    let d = run_anon(&snap, &Policy::default(), &r);
    assert_eq!(allowed(&d), Some(AllowReason::NotInMaintenance));
    let no_host = Req::get("/");
    let d = run_anon(&snap, &Policy::default(), &no_host);
    assert_eq!(allowed(&d), Some(AllowReason::NotInMaintenance));

    let strict = Policy::builder()
        .unknown_host(UnknownHost::Strictest)
        .build()
        .unwrap();
    for req in [&r, &no_host] {
        let d = run_anon(&snap, &strict, req);
        assert_eq!(block(d).site_state().unwrap().domain, "shop.example");
        // Exemptions still hold on the strictest site; the default site's state decides then.
        let d = run(&snap, &strict, req, Identity::Superuser);
        assert!(d.is_allowed(), "{d:?}");
    }
    // A known host is not affected by another site's maintenance.
    let blog = Req::get("/").host("blog.example");
    let d = run_anon(&snap, &strict, &blog);
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
    let d = run_anon(&later, &strict, &r);
    assert_eq!(allowed(&d), Some(AllowReason::NotInMaintenance));
    // With the default site in maintenance, an unknown host is blocked either way.
    let both = two_sites(false, true);
    let d = run_anon(&both, &strict, &r);
    assert_eq!(block(d).site_state().unwrap().domain, "default");
}

/// A host that is not a plain `host[:port]` is read by routers as different sites, so it is
/// decided as strictly as the strictest site: whichever of the two sites is down, it is
/// blocked, while the same name written plainly gets its own site's answer.
#[test]
fn unreadable_hosts_are_as_strict_as_the_strictest_site() {
    let forms = [
        "x@shop.example",
        "a:b@shop.example:80",
        "http://shop.example",
        "https://shop.example/",
        "shop.example/checkout",
        "shop%2eexample",
    ];
    for shop_down in [true, false] {
        let snap = snap(default_and_shop(!shop_down, shop_down));
        let p = Policy::default();
        for form in forms {
            let b = block(run_anon(&snap, &p, &Req::get("/").host(form)));
            let want = if shop_down { 2 } else { 1 };
            assert_eq!(b.site_state().unwrap().id, want, "{form}");
        }
        let plain = run_anon(&snap, &p, &Req::get("/").host("shop.example:80"));
        assert_eq!(matches!(plain, Decision::Block(_)), shop_down);
    }
}

#[test]
fn an_unreadable_host_passes_when_no_site_blocks_it() {
    let mut sites = default_and_shop(false, true);
    sites[1].ignored_paths.push(IgnoredPath {
        pattern: "^healthz$".into(),
        description: String::new(),
    });
    let snap = snap(sites);
    let p = Policy::default();
    let d = run_anon(&snap, &p, &Req::get("/healthz").host("x@shop.example"));
    assert_eq!(allowed(&d), Some(AllowReason::NotInMaintenance));
    let d = run_anon(&snap, &p, &Req::get("/other").host("x@shop.example"));
    assert!(matches!(d, Decision::Block(_)));
}

#[test]
fn a_host_line_that_is_not_text_is_unreadable() {
    let snap = snap(default_and_shop(false, true));
    let value = http::HeaderValue::from_bytes(b"sh\xf6p.example").unwrap();
    let alone = http::Request::builder()
        .uri("/")
        .header("host", value.clone());
    let alone = alone.body(()).unwrap();
    let d = decide_now(&snap, &alone);
    assert!(matches!(d, Decision::Block(_)), "{d:?}");
    // Beside an absolute-form target that names the default site.
    let beside = http::Request::builder()
        .uri("http://example.com/")
        .header("host", value)
        .body(())
        .unwrap();
    let d = decide_now(&snap, &beside);
    assert!(matches!(d, Decision::Block(_)), "{d:?}");
}

#[test]
fn an_absolute_target_with_userinfo_is_unreadable() {
    let snap = snap(default_and_shop(false, true));
    let req = http::Request::builder()
        .uri("http://x@shop.example/")
        .header("host", "example.com")
        .body(())
        .unwrap();
    let d = decide_now(&snap, &req);
    assert_eq!(block(d).site_state().unwrap().id, 2);
}

/// A router that compares names exactly serves `SHOP.example.` from its default route, so
/// such a host passes only if both its site and the default site let it.
#[test]
fn a_host_written_differently_from_its_site_must_also_pass_as_unknown() {
    let snap = snap(default_and_shop(true, false));
    let p = Policy::default();
    for host in ["SHOP.example", "shop.example.", "Shop.Example.:443"] {
        let b = block(run_anon(&snap, &p, &Req::get("/").host(host)));
        assert_eq!(b.site_state().unwrap().id, 1, "{host}");
    }
    for host in ["shop.example", "shop.example:8080"] {
        let d = run_anon(&snap, &p, &Req::get("/").host(host));
        assert_eq!(allowed(&d), Some(AllowReason::NotInMaintenance), "{host}");
    }
}
