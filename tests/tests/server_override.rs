//! The server's override on a running test project (`MAINTENANCE_OVERRIDE_FILE`,
//! `MAINTENANCE_OVERRIDE`): it takes and leaves effect while the database is down, is
//! exported in `/metrics`, and beats a database that cannot be reached at start-up.
//!
//! Runs on PostgreSQL (`MAINTENANCE_TEST_POSTGRES_URL`), behind a proxy the test takes down.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use maintenance_core::server_override::ServerOverride;
use maintenance_examples::Config;
use maintenance_tests::databases::fresh_postgres_url;
use maintenance_tests::faults::{TcpProxy, upstream_of};
use maintenance_tests::http::{Served, Server, client, prometheus_value, serve};
use reqwest::StatusCode;

fn config(url: &str) -> Config {
    Config {
        database_url: url.to_owned(),
        bind: "127.0.0.1:0".parse().unwrap(),
        poll_interval: Duration::from_millis(50),
        startup_wait: Duration::from_millis(300),
        ..Config::default()
    }
}

/// Waits (at most 10 s) until `GET /` answers `want`.
async fn answers(served: &Served, want: StatusCode) {
    let http = client();
    let mut got = StatusCode::OK;
    for _ in 0..400 {
        got = served.status(&http, "localhost", "/").await;
        if got == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(got, want, "GET /");
}

/// The override gauge on the server's `/metrics`.
async fn gauge(served: &Served) -> Option<f64> {
    let page = client()
        .get(format!("{}/metrics", served.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    prometheus_value(&page, "maintenance_override")
}

/// The state the status answer gives.
async fn status_state(served: &Served) -> String {
    let res = client()
        .get(format!("{}/_maintenance/status", served.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let json: serde_json::Value = res.json().await.unwrap();
    json["state"].as_str().unwrap_or_default().to_owned()
}

/// Both cases in one test, one after the other: the gauge is the process's, and two servers
/// in one test binary would share it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_override_takes_and_leaves_effect_with_the_database_down() {
    let test = "the_override_file_takes_and_leaves_effect_with_the_database_down";
    let Some(url) = fresh_postgres_url(test).await else {
        return;
    };
    the_override_file_takes_and_leaves_effect(&url).await;
    let test = "an_override_value_beats_a_database_down_at_start_up";
    let Some(url) = fresh_postgres_url(test).await else {
        return;
    };
    an_override_value_beats_a_database_down_at_start_up(&url).await;
}

async fn the_override_file_takes_and_leaves_effect(url: &str) {
    let proxy = TcpProxy::start(upstream_of(url).await.unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("override");
    let mut config = config(&proxy.url(url));
    config.override_file = Some(file.clone());
    let served = serve(Server::Axum, &config).await;
    answers(&served, StatusCode::OK).await;
    assert_eq!(gauge(&served).await, Some(0.0));

    // The database goes away: the last known state serves.
    proxy.refuse();
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(300)).await;
    answers(&served, StatusCode::OK).await;

    std::fs::write(&file, "on\n").unwrap();
    answers(&served, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(gauge(&served).await, Some(1.0));
    assert_eq!(status_state(&served).await, "active");

    // Emptied: the store's last known state again, the database still down.
    std::fs::write(&file, "").unwrap();
    answers(&served, StatusCode::OK).await;
    assert_eq!(gauge(&served).await, Some(0.0));
    assert_eq!(status_state(&served).await, "off");
    proxy.restore();
    drop(served);
}

async fn an_override_value_beats_a_database_down_at_start_up(url: &str) {
    let proxy = TcpProxy::start_down(upstream_of(url).await.unwrap())
        .await
        .unwrap();
    // Failing open with nothing loaded would serve: the override says maintenance.
    let mut config = config(&proxy.url(url));
    config.server_override = Some(ServerOverride::On);
    let served = serve(Server::Axum, &config).await;
    answers(&served, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(gauge(&served).await, Some(1.0));

    // The database answers and says "off": the override still holds.
    proxy.restore();
    tokio::time::sleep(Duration::from_millis(500)).await;
    answers(&served, StatusCode::SERVICE_UNAVAILABLE).await;
}
