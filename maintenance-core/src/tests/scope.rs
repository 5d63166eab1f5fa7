//! Partial maintenance: only the paths of the site's scope are in maintenance.

use super::*;

fn scoped(patterns: &[&str]) -> Snapshot {
    let mut s = default_site();
    s.scope = patterns.iter().map(|p| p.to_string()).collect();
    snap(vec![s])
}

/// Asserts that an anonymous `GET` of each of `paths` passes, as outside the scope.
fn assert_outside_scope(snapshot: &Snapshot, paths: &[&'static str]) {
    for path in paths {
        let d = run_anon(snapshot, &Policy::default(), &Req::get(path));
        assert_eq!(
            allowed(&d),
            Some(AllowReason::OutsideScope),
            "{path}: {d:?}"
        );
    }
}

#[test]
fn only_paths_in_the_scope_are_blocked() {
    let snap = scoped(&["^checkout/", "/api/orders"]);
    let p = Policy::default();
    for path in [
        "/checkout/",
        "/checkout/pay",
        "/api/orders",
        "/api/orders/7",
    ] {
        block(run_anon(&snap, &p, &Req::get(path)));
    }
    assert_outside_scope(
        &snap,
        &["/", "/shop", "/api/items", "/checkoutx", "/x/checkout/"],
    );
}

#[test]
fn an_empty_scope_is_the_whole_site() {
    let snap = scoped(&[]);
    block(run_anon(&snap, &Policy::default(), &Req::get("/anything")));
}

#[test]
fn exemptions_still_apply_inside_the_scope() {
    let snap = scoped(&["^shop"]);
    let p = Policy::default();
    assert_eq!(
        allowed(&run(&snap, &p, &Req::get("/shop"), Identity::Superuser)),
        Some(AllowReason::Superuser)
    );
    assert_outside_scope(&snap, &["/admin/"]);
}

#[test]
fn paths_that_read_two_ways_are_in_the_scope() {
    let snap = scoped(&["^shop"]);
    assert_each_blocked(
        &snap,
        &["/other/../shop", "/other%2f..%2fshop", "/x/%2e%2e/shop"],
    );
}

#[test]
fn an_invalid_scope_pattern_puts_the_whole_site_in_maintenance() {
    let snap = scoped(&["^(broken", "^checkout/"]);
    assert_eq!(snap.skipped().len(), 1);
    block(run_anon(&snap, &Policy::default(), &Req::get("/shop")));
}

#[test]
fn the_scope_is_written_checked_and_cleared_by_an_empty_one() {
    let mut site = SiteState::new(1, "example.com");
    StateChange::turn_on()
        .only(["^api/"])
        .apply_to(&mut site)
        .unwrap();
    assert_eq!(site.scope, ["^api/"]);
    let err = StateChange::turn_on()
        .only(["^api/", "^(x"])
        .apply_to(&mut site)
        .unwrap_err();
    assert!(err.to_string().contains("^(x"), "{err}");
    assert_eq!(site.scope, ["^api/"], "a refused change changes nothing");
    let many: Vec<String> = (0..=validate::MAX_SCOPE_PATTERNS)
        .map(|i| format!("^p{i}"))
        .collect();
    let err = StateChange::turn_on()
        .only(many)
        .apply_to(&mut site)
        .unwrap_err();
    assert!(err.to_string().contains("scope"), "{err}");
    StateChange::turn_off().apply_to(&mut site).unwrap();
    assert_eq!(site.scope, ["^api/"], "off keeps it");
    StateChange::turn_on()
        .only(Vec::<String>::new())
        .apply_to(&mut site)
        .unwrap();
    assert!(site.scope.is_empty());
    assert_eq!(
        StateChange::turn_on().only(["^a", "^b"]).describe(),
        r#"enabled=true only=["^a", "^b"]"#
    );
}

/// Rocket routes `/api/items/` to the route `/api/items`, and so does an application that
/// normalises paths inside the layer: a `$`-anchored scope holds both forms.
#[test]
fn a_trailing_slash_does_not_leave_the_scope() {
    let snap = scoped(&["^api/items$", "^cart/$"]);
    let p = Policy::default();
    for path in ["/api/items", "/api/items/", "/cart/", "/cart"] {
        let b = block(run_anon(&snap, &p, &Req::get(path).method("POST")));
        assert_eq!(b.reason, BlockReason::Maintenance, "{path}");
    }
    assert_outside_scope(&snap, &["/api/items/7", "/api/itemsx", "/cartx", "/"]);
}

#[test]
fn a_path_too_long_to_match_is_inside_the_scope() {
    let snap = scoped(&["^checkout/"]);
    let p = Policy::default();
    let long: &'static str = format!("/shop/{}", "a".repeat(validate::MAX_MATCHED_PATH_LEN)).leak();
    block(run_anon(&snap, &p, &Req::get(long)));
    let fits: &'static str =
        format!("/shop/{}", "a".repeat(validate::MAX_MATCHED_PATH_LEN - 6)).leak();
    assert_outside_scope(&snap, &[fits]);
}

/// A scope whose matcher gives up (here a pattern whose DFA explodes) cannot say a path is
/// outside, so the path stays in maintenance.
#[test]
fn a_scope_that_cannot_tell_holds_the_path() {
    let snap = scoped(&[".*a.{80}x"]);
    let p = Policy::default();
    let mut path = String::from("/");
    let mut x: u32 = 7;
    for _ in 0..2000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        path.push(if x >> 16 & 1 == 0 { 'a' } else { 'b' });
    }
    let path: &'static str = path.leak();
    let scope = snap.default_site().unwrap().scope();
    assert_eq!(scope.matches_prepared(&path[1..]), None);
    block(run_anon(&snap, &p, &Req::get(path)));
    assert_outside_scope(&snap, &["/short"]);
}
