//! The bypass secret: the link, the signed cookie it sets, the header.

use super::*;
use crate::bypass::sign_cookie;

#[test]
fn bypass_link_needs_exactly_get() {
    let mut s = default_site();
    s.bypass_secret_hash = Some(hash_secret("open-sesame"));
    let snap = snap(vec![s]);
    let p = Policy::default();
    let link = Req::get("/_maintenance/bypass/open-sesame");
    assert!(matches!(run_anon(&snap, &p, &link), Decision::Bypass(_)));
    block(run_anon(&snap, &p, &link.method("get")));
}

#[test]
fn bypass_link_sets_cookie_then_cookie_passes() {
    let (snap, _) = secret_site();
    let p = Policy::default();
    let grant = match run_anon(&snap, &p, &Req::get("/_maintenance/bypass/open-sesame")) {
        Decision::Bypass(g) => g,
        other => panic!("expected a grant, got {other:?}"),
    };
    let cookie = grant.set_cookie.split(';').next().unwrap().to_owned();
    let d = run_anon(
        &snap,
        &p,
        &Req::get("/").header("cookie", format!("theme=dark; {cookie}")),
    );
    assert_eq!(allowed(&d), Some(AllowReason::BypassCookie));
}

#[test]
fn wrong_secret_link_and_forged_cookie_are_blocked() {
    let (snap, _) = secret_site();
    let p = Policy::default();
    block(run_anon(&snap, &p, &Req::get("/_maintenance/bypass/guess")));
    block(run_anon(
        &snap,
        &p,
        &Req::get("/_maintenance/bypass/open-sesame").method("POST"),
    ));
    let forged = sign_cookie(None, &hash_secret("other"), 1, t(NOW + 100));
    block(run_anon(
        &snap,
        &p,
        &Req::get("/").header("cookie", format!("maintenance_bypass={forged}")),
    ));
    let expired = sign_cookie(None, &hash_secret("open-sesame"), 1, t(NOW - 1));
    block(run_anon(
        &snap,
        &p,
        &Req::get("/").header("cookie", format!("maintenance_bypass={expired}")),
    ));
}

#[test]
fn bypass_header_passes_with_the_secret_only() {
    let (snap, secret) = secret_site();
    let p = Policy::default();
    let d = run_anon(
        &snap,
        &p,
        &Req::get("/api").header("x-maintenance-bypass", secret),
    );
    assert_eq!(allowed(&d), Some(AllowReason::BypassHeader));
    block(run_anon(
        &snap,
        &p,
        &Req::get("/api").header("x-maintenance-bypass", "nope"),
    ));
}

#[test]
fn no_secret_set_means_no_bypass() {
    let snap = snap(vec![default_site()]);
    let p = Policy::default();
    block(run_anon(&snap, &p, &Req::get("/_maintenance/bypass/x")));
    block(run_anon(
        &snap,
        &p,
        &Req::get("/").header("x-maintenance-bypass", "x"),
    ));
}
