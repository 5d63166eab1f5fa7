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
