//! django-maintenancemode-2's testproject, one case each: off, on, staff, superuser, internal addresses,
//! ignored pages, the admin, no site.

use super::*;

#[test]
fn home_page_passes_when_maintenance_is_off() {
    let mut s = default_site();
    s.enabled = false;
    let d = run_anon(&snap(vec![s]), &Policy::default(), &Req::get("/"));
    assert_eq!(allowed(&d), Some(AllowReason::NotInMaintenance));
}

#[test]
fn anonymous_and_plain_users_are_blocked_when_on() {
    let snap = snap(vec![default_site()]);
    let b = block(run_anon(&snap, &Policy::default(), &Req::get("/")));
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
    let policy = networks_policy(&["127.0.0.1"], &[]);
    let d = run_from(&snap, &policy, "127.0.0.1");
    assert_eq!(allowed(&d), Some(AllowReason::InternalNetwork));
    block(run_from(&snap, &policy, "127.0.0.2"));
}

#[test]
fn ignored_page_passes_once_its_pattern_is_added() {
    let mut s = default_site();
    let before = snap(vec![s.clone()]);
    block(run_anon(
        &before,
        &Policy::default(),
        &Req::get("/ignored-page/"),
    ));
    s.ignored_paths.push(IgnoredPath {
        pattern: "^ignored-page/$".into(),
        description: String::new(),
    });
    let after = snap(vec![s]);
    let d = run_anon(&after, &Policy::default(), &Req::get("/ignored-page/"));
    assert_eq!(allowed(&d), Some(AllowReason::IgnoredPath));
    block(run_anon(
        &after,
        &Policy::default(),
        &Req::get("/ignored-page/more"),
    ));
}

#[test]
fn admin_is_ignored_by_default() {
    let snap = snap(vec![default_site()]);
    let d = run_anon(&snap, &Policy::default(), &Req::get("/admin/login/"));
    assert_eq!(allowed(&d), Some(AllowReason::IgnoredPath));
    let none = Policy::builder()
        .ignored_patterns::<_, &str>([])
        .build()
        .unwrap();
    block(run_anon(&snap, &none, &Req::get("/admin/login/")));
}

#[test]
fn no_site_means_pass() {
    let d = run_anon(
        &snap(vec![site(2, "shop.example")]),
        &Policy::default(),
        &Req::get("/").host("other.example"),
    );
    assert_eq!(allowed(&d), Some(AllowReason::NoSite));
}
