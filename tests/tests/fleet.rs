//! A fleet: test projects on axum, actix-web and rocket with `MAINTENANCE_STORE=nats` follow
//! a real database through the relay and a real nats-server, hold no database connection,
//! ride out NATS restarts without a failed request, and start from their state file when NATS
//! (or, on the direct path, their database) is down.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use maintenance_core::{MaintenanceSource, SiteRef, StateChange};
use maintenance_examples::{Config, StoreKind, open_store};
use maintenance_nats::Relay;
use maintenance_nats::testkit::{OwnServer, drop_bucket, nats_url, unique_bucket};
use maintenance_tests::http::{Served, Server, client, serve};
use reqwest::StatusCode;

/// The longest any wait may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// A database of the test's own (SQLite), its store, and a relay writing it to `bucket`.
struct Fleet {
    store: Arc<dyn maintenance_core::MaintenanceStore>,
    relay: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.relay.abort();
    }
}

async fn fleet(nats: &str, bucket: &str) -> Fleet {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("maintenance.db").display());
    let store = open_store(&url).await.unwrap();
    let source: Arc<dyn MaintenanceSource> =
        Arc::new(maintenance_sqlx::connect(&url).await.unwrap());
    let relay = Relay::connect(nats, bucket, source, url).await.unwrap();
    Fleet {
        store,
        relay: tokio::spawn(relay.run()),
        _dir: dir,
    }
}

/// A test project that follows `bucket` on `nats` (and no database).
async fn follower(
    server: Server,
    nats: &str,
    bucket: &str,
    configure: impl FnOnce(&mut Config),
) -> Served {
    let mut config = Config {
        // Never opened: a follower of the bucket reads no database.
        database_url: "postgres://nobody@127.0.0.1:1/none".to_owned(),
        bind: "127.0.0.1:0".parse().unwrap(),
        store: StoreKind::Nats,
        nats_url: nats.to_owned(),
        nats_bucket: bucket.to_owned(),
        ..Config::default()
    };
    configure(&mut config);
    serve(server, &config).await
}

/// Waits until `served` answers `/` with `want`.
async fn answers(served: &Served, want: StatusCode) {
    let http = client();
    let started = tokio::time::Instant::now();
    let mut last = None;
    while started.elapsed() < DEADLINE {
        let status = served.status(&http, "localhost", "/").await;
        if status == want {
            return;
        }
        last = Some(status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} never answered {want}; last {last:?}", served.base);
}

/// Turns the default site on through `store`, waits until `served` answers 503, then until its
/// state file holds that state (saved off the request path, moments after).
async fn turn_on_and_save(
    store: &dyn maintenance_core::MaintenanceStore,
    served: &Served,
    state_file: &std::path::Path,
) {
    store
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "ops")
        .await
        .unwrap();
    answers(served, StatusCode::SERVICE_UNAVAILABLE).await;
    let saved = tokio::time::Instant::now();
    while !std::fs::read_to_string(state_file).is_ok_and(|t| t.contains("\"enabled\":true")) {
        assert!(
            saved.elapsed() < DEADLINE,
            "the state file was never written"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn follows_the_relay(server: Server, test: &str) {
    let Some(nats) = nats_url(test) else {
        return;
    };
    let bucket = unique_bucket(test);
    let fleet = fleet(&nats, &bucket).await;
    let served = follower(server, &nats, &bucket, |_| {}).await;
    answers(&served, StatusCode::OK).await;
    let on = StateChange::turn_on().message("Moving house");
    fleet
        .store
        .set_state(&SiteRef::Default, &on, "ops")
        .await
        .unwrap();
    answers(&served, StatusCode::SERVICE_UNAVAILABLE).await;
    let page = client()
        .get(format!("{}/", served.base))
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("Moving house"));
    fleet
        .store
        .add_ignored_path(&SiteRef::Default, "^$", "the home page", "ops")
        .await
        .unwrap();
    answers(&served, StatusCode::OK).await;
    fleet
        .store
        .remove_ignored_path(&SiteRef::Default, "^$", "ops")
        .await
        .unwrap();
    answers(&served, StatusCode::SERVICE_UNAVAILABLE).await;
    fleet
        .store
        .set_state(&SiteRef::Default, &StateChange::turn_off(), "ops")
        .await
        .unwrap();
    answers(&served, StatusCode::OK).await;
    drop_bucket(&nats, &bucket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_follows_the_relay_through_nats() {
    follows_the_relay(Server::Axum, "fleet_axum").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actix_follows_the_relay_through_nats() {
    follows_the_relay(Server::Actix, "fleet_actix").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocket_follows_the_relay_through_nats() {
    follows_the_relay(Server::Rocket, "fleet_rocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_restarted_under_a_request_loop_fails_nothing_and_serves_the_change_made_meanwhile() {
    if nats_url("nats_restarted_under_a_request_loop").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = OwnServer::start(None, Some(dir.path()));
    let nats = server.url();
    let fleet = fleet(&nats, "maintenance").await;
    let served = follower(Server::Axum, &nats, "maintenance", |_| {}).await;
    answers(&served, StatusCode::OK).await;

    let http = client();
    let port = server.stop();
    let on = StateChange::turn_on().message("Changed while NATS was down");
    fleet
        .store
        .set_state(&SiteRef::Default, &on, "ops")
        .await
        .unwrap();
    // While NATS is down: every request answered, from the last state held.
    for _ in 0..200 {
        assert_eq!(served.status(&http, "localhost", "/").await, StatusCode::OK);
    }
    let _server = OwnServer::start(Some(port), Some(dir.path()));
    answers(&served, StatusCode::SERVICE_UNAVAILABLE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_while_nats_is_down_serves_its_state_file() {
    if nats_url("a_server_restarted_while_nats_is_down").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = OwnServer::start(None, Some(&dir.path().join("js")));
    let nats = server.url();
    let state_file = dir.path().join("state.json");
    let with_file = |c: &mut Config| {
        c.state_file = Some(state_file.clone());
        c.startup_wait = Duration::from_millis(500);
    };
    let fleet = fleet(&nats, "maintenance").await;
    let served = follower(Server::Axum, &nats, "maintenance", with_file).await;
    turn_on_and_save(&*fleet.store, &served, &state_file).await;
    drop(served);
    server.stop();

    // NATS is down: without the file the fail mode (open) would serve the home page.
    let restarted = follower(Server::Axum, &nats, "maintenance", with_file).await;
    answers(&restarted, StatusCode::SERVICE_UNAVAILABLE).await;
    let without_file = follower(Server::Axum, &nats, "maintenance", |c| {
        c.startup_wait = Duration::from_millis(500);
    })
    .await;
    answers(&without_file, StatusCode::OK).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_while_its_database_is_down_serves_its_state_file() {
    use maintenance_tests::databases::fresh_postgres_url;
    use maintenance_tests::faults::{TcpProxy, upstream_of};
    let Some(direct) = fresh_postgres_url("a_server_restarted_while_its_database_is_down").await
    else {
        return;
    };
    let proxy = TcpProxy::start(upstream_of(&direct).await.unwrap())
        .await
        .unwrap();
    let url = proxy.url(&direct);
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("state.json");
    let config = |file: Option<&std::path::Path>| Config {
        database_url: url.clone(),
        bind: "127.0.0.1:0".parse().unwrap(),
        startup_wait: Duration::from_millis(500),
        state_file: file.map(std::path::Path::to_path_buf),
        ..Config::default()
    };
    let served = serve(Server::Axum, &config(Some(&state_file))).await;
    let store = open_store(&direct).await.unwrap();
    turn_on_and_save(&*store, &served, &state_file).await;
    drop(served);

    // The database is down: the restarted server serves the saved state, not the fail mode.
    proxy.refuse();
    let restarted = serve(Server::Axum, &config(Some(&state_file))).await;
    answers(&restarted, StatusCode::SERVICE_UNAVAILABLE).await;
    let without_file = serve(Server::Axum, &config(None)).await;
    answers(&without_file, StatusCode::OK).await;

    // Back: the restarted server follows the database, a change made meanwhile included.
    store
        .set_state(&SiteRef::Default, &StateChange::turn_off(), "ops")
        .await
        .unwrap();
    proxy.restore();
    answers(&restarted, StatusCode::OK).await;
}
