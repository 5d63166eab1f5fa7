//! The NATS source and the relay against a real nats-server: the shared one at
//! `MAINTENANCE_TEST_NATS_URL` (JetStream on), and servers of their own on free ports for the
//! faults (stopped, restarted, without JetStream).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use maintenance_core::{
    MaintenanceSource, MaintenanceStore, MemoryStore, SiteRef, SiteState, StateChange,
};
use maintenance_nats::record::{SiteRecord, encode, site_key};
use maintenance_nats::testkit::{OwnServer, drop_bucket, nats_url, unique_bucket as bucket_name};
use maintenance_nats::{Error, NatsSource, Relay};

const DATABASE: &str = "memory://tests";

/// Waits (at most 10 s) until `check` holds; `false` if it never did.
async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The follower's sites equal the store's (what a server would serve).
async fn follows(source: &NatsSource, store: &MemoryStore) -> bool {
    let want = store.load().await.expect("memory store").sites;
    match source.load().await {
        Ok(contents) => contents.sites == want,
        Err(_) => false,
    }
}

async fn relay_over(url: &str, bucket: &str, store: &Arc<MemoryStore>) -> Relay {
    Relay::connect(url, bucket, store.clone(), DATABASE)
        .await
        .expect("relay connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_change_goes_through_the_relay_to_a_follower() {
    let Some(url) = nats_url("every_kind_of_change") else {
        return;
    };
    let bucket = bucket_name("every_kind");
    let store = Arc::new(MemoryStore::new());
    let mut relay = relay_over(&url, &bucket, &store).await;
    let first = relay.sync().await.expect("first round");
    assert!(first.full, "the first round reads everything");
    let source = NatsSource::connect(&url, &bucket).await.expect("source");
    assert!(follows(&source, &store).await);
    let handle = maintenance_core::Maintenance::start(source.clone(), Default::default()).await;
    assert!(!handle.is_in_maintenance("shop.example"));

    let shop = SiteRef::Domain("shop.example".into());
    store
        .add_site("shop.example", Some("Shop"), "t")
        .await
        .unwrap();
    store
        .set_state(&shop, &StateChange::turn_on().message("Back at noon"), "t")
        .await
        .unwrap();
    let changes: Vec<(&str, StateChange)> = vec![
        ("window", {
            let now = Utc::now();
            StateChange::turn_on().window(Some(now), Some(now + chrono::Duration::hours(1)))
        }),
        ("scope", StateChange::default().only(["^/checkout"])),
        ("off", StateChange::turn_off()),
    ];
    let round = relay.sync().await.unwrap();
    assert!(!round.full && round.written == 1, "{round:?}");
    assert!(
        eventually(|| follows(&source, &store)).await,
        "added and turned on"
    );
    handle.refresh().await.unwrap();
    assert!(handle.is_in_maintenance("shop.example"));
    for (what, change) in changes {
        store.set_state(&shop, &change, "t").await.unwrap();
        relay.sync().await.unwrap();
        assert!(eventually(|| follows(&source, &store)).await, "{what}");
    }
    store
        .add_ignored_path(&shop, "^/health", "probes", "t")
        .await
        .unwrap();
    store
        .add_allowed_network(&shop, "10.0.0.0/8", "office", "t")
        .await
        .unwrap();
    relay.sync().await.unwrap();
    assert!(
        eventually(|| follows(&source, &store)).await,
        "patterns and networks"
    );
    store
        .remove_ignored_path(&shop, "^/health", "t")
        .await
        .unwrap();
    store
        .remove_allowed_network(&shop, "10.0.0.0/8", "t")
        .await
        .unwrap();
    relay.sync().await.unwrap();
    assert!(eventually(|| follows(&source, &store)).await, "removals");
    store.remove_site("shop.example", "t").await.unwrap();
    let round = relay.sync().await.unwrap();
    assert_eq!(round.removed, 1, "{round:?}");
    assert!(
        eventually(|| follows(&source, &store)).await,
        "site removed"
    );
    handle.refresh().await.unwrap();
    assert!(!handle.is_in_maintenance("shop.example"));
    // The follower named only what changed: the handle never read everything again.
    assert_eq!(handle.full_loads(), 1);
    assert_eq!(source.database().as_deref(), Some(DATABASE));
    drop_bucket(&url, &bucket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_relay_follows_the_store_feed() {
    let Some(url) = nats_url("a_running_relay_follows_the_store_feed") else {
        return;
    };
    let bucket = bucket_name("running");
    let store = Arc::new(MemoryStore::new());
    let relay = relay_over(&url, &bucket, &store).await;
    let task = tokio::spawn(relay.run());
    let source = NatsSource::connect(&url, &bucket).await.unwrap();
    let handle = maintenance_core::Maintenance::start(source, Default::default()).await;
    let mut changes = handle.watch();
    store
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), changes.changed())
        .await
        .expect("the flip reaches the follower")
        .unwrap();
    assert!(handle.is_in_maintenance("anything.example"));
    task.abort();
    drop_bucket(&url, &bucket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_relay_neither_reverts_a_newer_state_nor_revives_a_removed_site() {
    let Some(url) = nats_url("a_slow_relay") else {
        return;
    };
    let bucket = bucket_name("slow_relay");
    // Both relays follow one database; the slow one read it before the last changes.
    let stale = Arc::new(MemoryStore::new());
    let fresh = Arc::new(MemoryStore::new());
    for store in [&stale, &fresh] {
        for domain in ["a.example", "b.example"] {
            store.add_site(domain, None, "t").await.unwrap();
        }
    }
    let a = SiteRef::Domain("a.example".into());
    fresh
        .set_state(&a, &StateChange::turn_on().message("newer"), "t")
        .await
        .unwrap();
    fresh.remove_site("b.example", "t").await.unwrap();
    assert!(fresh.revision().await.unwrap() > stale.revision().await.unwrap());

    let mut quick = relay_over(&url, &bucket, &fresh).await;
    quick.sync().await.unwrap();
    let mut slow = relay_over(&url, &bucket, &stale).await;
    let round = slow.sync().await.unwrap();
    assert_eq!((round.written, round.removed), (0, 0), "{round:?}");

    let source = NatsSource::connect(&url, &bucket).await.unwrap();
    let sites = source.load().await.unwrap().sites;
    let domains: Vec<&str> = sites.iter().map(|s| s.domain.as_str()).collect();
    assert_eq!(domains, ["default", "a.example"], "b stays removed");
    let a_state = sites.iter().find(|s| s.domain == "a.example").unwrap();
    assert_eq!(a_state.message.as_deref(), Some("newer"));
    assert!(source.revision().await.unwrap() >= fresh.revision().await.unwrap());
    drop_bucket(&url, &bucket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_in_a_newer_format_is_refused_and_the_last_state_kept() {
    let Some(url) = nats_url("a_value_in_a_newer_format") else {
        return;
    };
    let bucket = bucket_name("newer_format");
    let store = Arc::new(MemoryStore::new());
    store
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
        .await
        .unwrap();
    relay_over(&url, &bucket, &store)
        .await
        .sync()
        .await
        .unwrap();
    let source = NatsSource::connect(&url, &bucket).await.unwrap();
    let handle = maintenance_core::Maintenance::start(source.clone(), Default::default()).await;
    assert!(handle.is_in_maintenance("x.example"));

    let client = async_nats::connect(&url).await.unwrap();
    let kv = async_nats::jetstream::new(client)
        .get_key_value(&bucket)
        .await
        .unwrap();
    let id = store.load().await.unwrap().sites[0].id;
    kv.put(
        site_key(id),
        r#"{"format":2,"revision":99,"site":{"renamed":true}}"#.into(),
    )
    .await
    .unwrap();
    let refused = eventually(|| async { source.revision().await.is_err() }).await;
    assert!(refused, "the newer value is refused");
    let err = source.revision().await.unwrap_err();
    let text = maintenance_core::ErrorChain(&err).to_string();
    assert!(
        text.contains(&format!("key `site.{id}` is written in format 2"))
            && text.contains("upgrade"),
        "{text}"
    );
    assert!(handle.refresh().await.is_err());
    assert!(
        handle.is_in_maintenance("x.example"),
        "the last state stays"
    );

    // A readable value again: followed again.
    let mut site = SiteState::new(id, "default");
    site.is_default = true;
    kv.put(site_key(id), encode(&SiteRecord::present(100, site)))
        .await
        .unwrap();
    assert!(eventually(|| async { source.revision().await.is_ok() }).await);
    handle.refresh().await.unwrap();
    assert!(!handle.is_in_maintenance("x.example"));
    drop_bucket(&url, &bucket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_writes_only_to_a_bucket_of_its_own_database() {
    let Some(url) = nats_url("a_relay_writes_only_to_a_bucket_of_its_own_database") else {
        return;
    };
    let bucket = bucket_name("other_db");
    let store = Arc::new(MemoryStore::new());
    relay_over(&url, &bucket, &store)
        .await
        .sync()
        .await
        .unwrap();
    let mut other = Relay::connect(&url, &bucket, store.clone(), "postgres://other/db")
        .await
        .unwrap();
    let err = other.sync().await.unwrap_err();
    assert!(matches!(err, Error::OtherDatabase { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "the bucket `{bucket}` follows the database `{DATABASE}`, not `postgres://other/db`: name another bucket with --bucket"
        )
    );
    drop_bucket(&url, &bucket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_bucket_is_no_state_and_says_to_start_a_relay() {
    let Some(url) = nats_url("an_empty_bucket") else {
        return;
    };
    let bucket = bucket_name("empty");
    // A relay that made the bucket and wrote nothing yet.
    relay_over(&url, &bucket, &Arc::new(MemoryStore::new())).await;
    let source = NatsSource::connect(&url, &bucket)
        .await
        .unwrap()
        .load_timeout(Duration::from_secs(5));
    let err = source.load().await.unwrap_err();
    assert!(
        maintenance_core::ErrorChain(&err)
            .to_string()
            .contains(&format!("the bucket `{bucket}` holds no maintenance state yet: start `maintenance relay` on it")),
        "{err:?}"
    );
    drop_bucket(&url, &bucket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_jetstream_is_refused_with_what_to_do() {
    if nats_url("a_server_without_jetstream").is_none() {
        return;
    }
    let server = OwnServer::start(None, None);
    let store = Arc::new(MemoryStore::new());
    let err = Relay::connect(&server.url(), "maintenance", store, DATABASE)
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, Error::Bucket { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("could not open the key-value bucket `maintenance` (is JetStream enabled? nats-server -js)"),
        "{err}"
    );
    let port = server.stop();
    let err = Relay::connect(
        &format!("nats://127.0.0.1:{port}"),
        "maintenance",
        Arc::new(MemoryStore::new()),
        DATABASE,
    )
    .await
    .err()
    .expect("refused");
    assert_eq!(
        err.to_string(),
        format!("could not connect to NATS at `nats://127.0.0.1:{port}`")
    );
    let err = NatsSource::connect("nats://host:port", "maintenance")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid NATS URL `nats://host:port`")
    );
    let err = NatsSource::connect("nats://127.0.0.1:4222", "a.b")
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("invalid bucket name `a.b`"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_keeps_its_state_while_nats_is_down_and_catches_up_after() {
    if nats_url("a_follower_keeps_its_state_while_nats_is_down").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = OwnServer::start(None, Some(dir.path()));
    let url = server.url();
    let store = Arc::new(MemoryStore::new());
    let mut relay = relay_over(&url, "maintenance", &store).await;
    relay.sync().await.unwrap();
    let source = NatsSource::connect(&url, "maintenance").await.unwrap();
    let handle = maintenance_core::Maintenance::start(source.clone(), Default::default()).await;
    handle.spawn_refresher();
    assert_eq!(handle.revision(), Some(store.revision().await.unwrap()));

    let port = server.stop();
    assert!(eventually(|| async { source.revision().await.is_err() }).await);
    // Changed while NATS is down: the relay fails, the follower serves what it had.
    store
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
        .await
        .unwrap();
    assert!(relay.sync().await.is_err());
    assert!(!handle.is_in_maintenance("x.example"));

    let _server = OwnServer::start(Some(port), Some(dir.path()));
    let mut relayed = false;
    for _ in 0..200 {
        if relay.sync().await.is_ok() {
            relayed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(relayed, "the relay writes again");
    assert!(
        eventually(|| async { handle.is_in_maintenance("x.example") }).await,
        "the change made meanwhile is served"
    );
}
