//! Methods in read-only and full maintenance.

use super::*;

/// The default site in read-only maintenance.
fn read_only_snap() -> Snapshot {
    let mut s = default_site();
    s.mode = Mode::ReadOnly;
    snap(vec![s])
}

/// The decision on an anonymous `method` request for `/`, with the default policy.
fn run_method(snap: &Snapshot, method: &'static str) -> Decision {
    let req = Req::get("/").method(method);
    run_anon(snap, &Policy::default(), &req)
}

#[test]
fn read_only_lets_safe_methods_through() {
    let snap = read_only_snap();
    for m in ["GET", "HEAD", "OPTIONS"] {
        let d = run_method(&snap, m);
        assert_eq!(allowed(&d), Some(AllowReason::ReadOnlySafeMethod), "{m}");
    }
    for m in ["POST", "PUT", "PATCH", "DELETE"] {
        let b = block(run_method(&snap, m));
        assert_eq!(b.reason, BlockReason::ReadOnly, "{m}");
    }
}

#[test]
fn read_only_compares_methods_exactly() {
    let snap = read_only_snap();
    for m in ["get", "Get", "head", "options", "GETX"] {
        let b = block(run_method(&snap, m));
        assert_eq!(b.reason, BlockReason::ReadOnly, "{m}");
    }
}

#[test]
fn full_mode_blocks_head_and_options_too() {
    let snap = snap(vec![default_site()]);
    for m in ["HEAD", "OPTIONS"] {
        block(run_method(&snap, m));
    }
}
