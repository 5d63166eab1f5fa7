//! The decision as a whole: the order of the exemptions, the fail mode, the status, and
//! what its debug output leaves out.

use super::*;

#[test]
fn order_networks_before_identity_before_path() {
    let (snap, secret) = secret_site();
    let p = networks_policy(&["127.0.0.1"], &[]);
    let everything = Req::get("/admin/")
        .peer(Some("127.0.0.1"))
        .header("x-maintenance-bypass", secret);
    let no_net = Req::get("/admin/").header("x-maintenance-bypass", secret);
    let api = Req::get("/api").header("x-maintenance-bypass", secret);
    for (req, who, reason) in [
        (
            &everything,
            Identity::Superuser,
            AllowReason::InternalNetwork,
        ),
        (&no_net, Identity::Superuser, AllowReason::Superuser),
        (&no_net, Identity::Anonymous, AllowReason::IgnoredPath),
        (&api, Identity::Anonymous, AllowReason::BypassHeader),
    ] {
        let got = allowed(&run(&snap, &p, req, who));
        assert_eq!(got, Some(reason), "{who:?}, expected {reason:?}");
    }
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
    let b = block(run_anon(&snap(vec![default_site()]), &p, &Req::get("/")));
    assert_eq!(b.status.as_u16(), 502);
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
    let blocked = run_anon(&snap, &p, &Req::get("/"));
    let Decision::Block(b) = &blocked else {
        panic!("expected a block, got {blocked:?}")
    };
    let link = run_anon(&snap, &p, &Req::get("/_maintenance/bypass/open-sesame"));
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

/// The decision for `req` with an identity lookup that counts how often it is asked.
fn run_counting(snapshot: &Snapshot, policy: &Policy, req: &Req, who: Identity) -> (Decision, u32) {
    let mut asked = 0;
    let d = decide(
        Some(snapshot),
        policy,
        &req.build(),
        || {
            asked += 1;
            who
        },
        t(NOW),
    );
    (d, asked)
}

#[test]
fn identity_is_asked_only_at_the_identity_step_and_once() {
    let (with_secret, secret) = secret_site();
    let p = networks_policy(&["127.0.0.1"], &[]);
    let mut off = default_site();
    off.enabled = false;
    let mut later = default_site();
    later.starts_at = Some(t(NOW + 60));
    let mut ended = default_site();
    ended.ends_at = Some(t(NOW - 60));
    let link = format!("/_maintenance/bypass/{secret}");
    let link: &'static str = Box::leak(link.into_boxed_str());
    let cases: [(&str, Snapshot, Req, u32); 7] = [
        ("not in maintenance", snap(vec![off]), Req::get("/"), 0),
        ("window not started", snap(vec![later]), Req::get("/"), 0),
        ("window ended", snap(vec![ended]), Req::get("/"), 0),
        ("bypass link", with_secret.clone(), Req::get(link), 0),
        (
            "internal network",
            snap(vec![default_site()]),
            Req::get("/").peer(Some("127.0.0.1")),
            0,
        ),
        ("blocked", snap(vec![default_site()]), Req::get("/"), 1),
        (
            "ignored path, after the identity step",
            snap(vec![default_site()]),
            Req::get("/admin/"),
            1,
        ),
    ];
    for (name, snapshot, req, want) in cases {
        let (_, asked) = run_counting(&snapshot, &p, &req, Identity::Anonymous);
        assert_eq!(asked, want, "{name}");
    }

    // Two hosts, two sites in maintenance: both checked, the lookup asked once.
    let mut shop = site(2, "shop.example.com");
    shop.enabled = true;
    let two = snap(vec![default_site(), shop]);
    let req = Req::get("/")
        .host("shop.example.com")
        .header("host", "other.example.com");
    let (d, asked) = run_counting(&two, &p, &req, Identity::Staff);
    assert_eq!(allowed(&d), Some(AllowReason::Staff));
    assert_eq!(asked, 1);
}

#[test]
fn nothing_in_maintenance_passes_without_a_look_at_the_request() {
    let mut off = default_site();
    off.enabled = false;
    let mut shop = site(2, "shop.example.com");
    shop.enabled = false;
    let all_off = snap(vec![off.clone(), shop.clone()]);
    assert!(all_off.all_off());
    let odd = Req::get("/../admin")
        .host("shop.example.com")
        .header("host", "elsewhere.example")
        .peer(None);
    let (d, asked) = run_counting(&all_off, &Policy::default(), &odd, Identity::Anonymous);
    assert_eq!(allowed(&d), Some(AllowReason::NotInMaintenance));
    assert_eq!(asked, 0);

    // One site on, or no default site for unknown hosts: the full decision.
    shop.enabled = true;
    assert!(!snap(vec![off.clone(), shop]).all_off());
    let mut lone = site(3, "blog.example.com");
    lone.enabled = false;
    let no_default = snap(vec![lone]);
    assert!(!no_default.all_off());
    let d = run_anon(
        &no_default,
        &Policy::default(),
        &Req::get("/").host("other.example"),
    );
    assert_eq!(allowed(&d), Some(AllowReason::NoSite));
}
