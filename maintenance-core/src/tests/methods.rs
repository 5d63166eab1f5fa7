//! Methods in read-only and full maintenance.

use super::*;

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
