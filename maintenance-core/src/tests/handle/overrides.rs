//! The server's override: a value in the policy or a watched file beats the store, with or
//! without a state loaded, and leaves the store in charge again when lifted.

use crate::server_override::ServerOverride;
use crate::status::StatusState;

use super::*;

fn get() -> http::Request<()> {
    http::Request::builder().uri("/").body(()).unwrap()
}

fn blocked(m: &Maintenance) -> bool {
    !m.check(&get(), Identity::Anonymous).is_allowed()
}

/// Waits (real time: the file is watched by the handle's task) until `want` holds.
async fn eventually(want: impl Fn() -> bool) -> bool {
    for _ in 0..500 {
        if want() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    want()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_override_file_beats_the_store_and_lifting_it_gives_the_store_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("override");
    let store = Arc::new(MemoryStore::new());
    let policy = Policy::builder()
        .override_file(&file)
        .override_poll(Duration::from_millis(10))
        .build()
        .unwrap();
    let m = Maintenance::start(Arc::clone(&store), policy).await;
    assert!(!blocked(&m), "no file: the store decides");

    std::fs::write(&file, "on\n").unwrap();
    assert!(eventually(|| blocked(&m)).await, "on: in maintenance");
    assert!(m.is_in_maintenance("example.com"));
    let status = m.status_answer(None, Utc::now());
    assert_eq!(status.status().state, StatusState::Active);
    // The exemptions still hold.
    assert!(m.check(&get(), Identity::Superuser).is_allowed());

    // Off beats a store in maintenance.
    std::fs::write(&file, "off").unwrap();
    store
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "ops")
        .await
        .unwrap();
    m.refresh().await.unwrap();
    assert!(eventually(|| !blocked(&m)).await, "off: served");
    assert!(
        m.snapshot()
            .unwrap()
            .default_site()
            .unwrap()
            .state()
            .enabled,
        "the source's state is kept as it is"
    );

    // A file that says something else changes nothing.
    std::fs::write(&file, "maybe").unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!blocked(&m), "still off");

    // Lifted: the store is in charge again.
    std::fs::remove_file(&file).unwrap();
    assert!(eventually(|| blocked(&m)).await, "the store's state again");
}

#[tokio::test]
async fn an_override_value_answers_before_anything_is_loaded() {
    let policy = Policy::builder()
        .server_override(Some(ServerOverride::On))
        .build()
        .unwrap();
    // Never loaded: the fail mode (open) would serve; the override blocks.
    let m = Maintenance::new(MemoryStore::new(), policy);
    assert!(blocked(&m));
    assert!(m.snapshot().is_none(), "nothing loaded from the source");

    let off = Policy::builder()
        .server_override(Some(ServerOverride::Off))
        .fail_mode(FailMode::Closed)
        .build()
        .unwrap();
    let m = Maintenance::new(MemoryStore::new(), off);
    assert!(!blocked(&m), "off beats failing closed");
}
