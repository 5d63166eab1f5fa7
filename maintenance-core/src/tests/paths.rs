//! Ignored paths: patterns from the store, and paths that could be read two ways.

use super::*;

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
        allowed(&run_anon(&snap, &p, &Req::get("/healthz"))),
        Some(AllowReason::IgnoredPath)
    );
    block(run_anon(&snap, &p, &Req::get("/other")));
}

#[test]
fn traversal_never_gets_a_path_bypass() {
    let snap = snap(vec![default_site()]);
    assert_each_blocked(
        &snap,
        &["/admin/../shop", "/admin%2f..%2fshop", "/admin/%2e%2e/shop"],
    );
}

#[test]
fn ignored_patterns_keep_their_trailing_slash_unless_the_router_ignores_it() {
    let mut s = default_site();
    for p in ["^ignored-page/$", "^both/?$", "^prefix"] {
        s.ignored_paths.push(IgnoredPath {
            pattern: p.into(),
            description: String::new(),
        });
    }
    let snap = snap(vec![s]);
    let default_policy = Policy::default();
    let insensitive = Policy::builder()
        .trailing_slash_insensitive(true)
        .build()
        .unwrap();
    let cases = [
        // path, exempt as django-maintenancemode-2 reads it, exempt when `/a/` routes as `/a`
        ("/ignored-page/", true, false),
        ("/ignored-page", false, false),
        ("/both", true, true),
        ("/both/", true, true),
        ("/prefix", true, true),
        ("/prefix/x/", true, true),
        ("/other/", false, false),
    ];
    for (path, by_default, by_insensitive) in cases {
        let exempt = |p: &Policy| {
            allowed(&run_anon(&snap, p, &Req::get(path))) == Some(AllowReason::IgnoredPath)
        };
        assert_eq!(exempt(&default_policy), by_default, "{path}");
        assert_eq!(exempt(&insensitive), by_insensitive, "{path} (insensitive)");
    }
}

#[test]
fn a_path_too_long_to_match_gets_no_bypass() {
    let mut s = default_site();
    s.ignored_paths.push(IgnoredPath {
        pattern: "^static/".into(),
        description: String::new(),
    });
    let snap = snap(vec![s]);
    let p = Policy::default();
    let long: &'static str =
        format!("/static/{}", "a".repeat(validate::MAX_MATCHED_PATH_LEN)).leak();
    block(run_anon(&snap, &p, &Req::get(long)));
    let encoded: &'static str =
        format!("/static/{}", "%61".repeat(validate::MAX_MATCHED_PATH_LEN)).leak();
    block(run_anon(&snap, &p, &Req::get(encoded)));
    assert_eq!(
        allowed(&run_anon(&snap, &p, &Req::get("/static/app.css"))),
        Some(AllowReason::IgnoredPath)
    );
}

/// The six patterns of the second review: each is refused alone or, where accepted, costs a
/// bounded search that gives up on the long path (no bypass) and still answers short ones;
/// read from a database together, the first ones that fit the set's limit are kept.
#[test]
fn costly_pattern_sets_give_up_instead_of_stalling() {
    let costly = [
        "(?:.*){1000}x",
        "(?:.*.*){500}y",
        "(?:.*){400}x",
        "(?:.*.*){200}y",
        ".*a.{100}x",
        "(?:.*a.{10}){8}x",
    ];
    let accepted: Vec<&str> = costly
        .iter()
        .copied()
        .filter(|p| validate_pattern(p).is_ok())
        .collect();
    assert!(validate_pattern("(?:.*){1000}x").is_err());
    assert!(validate_pattern("(?:.*.*){500}y").is_err());
    assert!(accepted.len() >= 2, "{accepted:?}");
    let mut s = default_site();
    // Written first, as the store's writes would keep it: patterns past the set's limit are
    // the ones left out.
    for p in ["^healthz$"].into_iter().chain(accepted.iter().copied()) {
        s.ignored_paths.push(IgnoredPath {
            pattern: p.into(),
            description: String::new(),
        });
    }
    let snap = snap(vec![s]);
    let p = Policy::default();
    let mut long = String::from("/");
    let mut x: u32 = 1;
    while long.len() < validate::MAX_MATCHED_PATH_LEN {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        long.push(['a', 'b', '-', '/'][(x >> 16) as usize % 4]);
    }
    let long: &'static str = long.leak();
    let live = snap.default_site().unwrap();
    assert_ne!(live.ignored().matches_prepared(&long[1..]), Some(true));
    assert_eq!(live.ignored().matches_prepared("healthz"), Some(true));
    assert_eq!(
        allowed(&run_anon(&snap, &p, &Req::get("/healthz"))),
        Some(AllowReason::IgnoredPath)
    );
}

/// Patterns written in plain SQL can exceed the set's limit together: the first ones that
/// fit are kept (what the store's own writes would have left), the rest reported.
#[test]
fn a_set_too_large_when_read_keeps_the_first_patterns_that_fit() {
    let mut s = default_site();
    let patterns: Vec<String> = (0..40).map(|i| format!(r"\w{{4}}/{i}$")).collect();
    for p in ["^healthz$"].iter().map(|p| p.to_string()).chain(patterns) {
        s.ignored_paths.push(IgnoredPath {
            pattern: p,
            description: String::new(),
        });
    }
    let snap = snap(vec![s]);
    let live = snap.default_site().unwrap();
    assert_eq!(live.ignored().matches_prepared("healthz"), Some(true));
    let kept = live.ignored().compiled_len().unwrap();
    assert!((2..41).contains(&kept), "{kept}");
    assert_eq!(live.ignored().matches_prepared("abcd/0"), Some(true));
    assert_eq!(
        live.ignored().matches_prepared("abcd/39"),
        Some(false),
        "left out"
    );
}
