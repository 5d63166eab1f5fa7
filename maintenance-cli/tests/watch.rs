//! `maintenance watch` as a process, against a real HTTP receiver that checks every signature
//! and counts deliveries, and a real shell command: the current state first, every change
//! after it (windows starting and ending with no write included), in order, and nothing lost
//! while the receiver is down for a while.

// Tests may unwrap: a panic is how they fail.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::{Backend, Background, cli, cli_ok, fails, fresh_db};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const SECRET: &str = "watch-test-secret-0123456789abcdef";

/// What the receiver saw.
#[derive(Default)]
struct Received {
    /// Events accepted, in order: (id, the whole event).
    events: Mutex<Vec<(String, serde_json::Value)>>,
    /// Every request, accepted or not.
    attempts: AtomicUsize,
    /// Requests whose signature did not check.
    forged: AtomicUsize,
    /// While set, the receiver answers 503.
    down: AtomicBool,
}

/// Checks `t=<t>,v1=<hex>` against the body, as a receiver would.
fn signed(headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(sig) = headers
        .get("maintenance-signature")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut t = None;
    let mut v1 = None;
    for part in sig.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v.to_owned()),
            Some(("v1", v)) => v1 = Some(v.to_owned()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let fresh = t
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 300);
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    let Ok(v1) = hex::decode(v1) else {
        return false;
    };
    fresh && mac.verify_slice(&v1).is_ok()
}

async fn hook(State(seen): State<Arc<Received>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    seen.attempts.fetch_add(1, Ordering::SeqCst);
    if !signed(&headers, &body) {
        seen.forged.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED;
    }
    if seen.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let id = headers["maintenance-event-id"].to_str().unwrap().to_owned();
    assert_eq!(event["id"], id.as_str());
    seen.events.lock().unwrap().push((id, event));
    StatusCode::NO_CONTENT
}

/// A receiver on a free port: its URL and what it sees.
async fn receiver() -> (String, Arc<Received>) {
    let seen = Arc::new(Received::default());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(Arc::clone(&seen));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), seen)
}

/// `maintenance watch ARGS...` in the background, the webhook secret set; killed when
/// dropped.
fn watch(db_url: &str, args: &[&str]) -> Background {
    let mut all = vec!["watch"];
    all.extend_from_slice(args);
    Background::start(db_url, &all, &[("MAINTENANCE_WEBHOOK_SECRET", SECRET)])
}

/// Waits (at most 20 s) until the receiver has `n` events; returns their (id, state) pairs.
async fn until_events(seen: &Received, n: usize) -> Vec<(String, String)> {
    for _ in 0..400 {
        if seen.events.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events = seen.events.lock().unwrap();
    assert!(
        events.len() >= n,
        "{} of {n} events arrived: {:?}",
        events.len(),
        events.iter().map(|e| &e.0).collect::<Vec<_>>()
    );
    events
        .iter()
        .map(|(id, e)| (id.clone(), e["state"].as_str().unwrap().to_owned()))
        .collect()
}

async fn webhook_deliveries(backend: Backend, test: &str) {
    let Some(db) = fresh_db(backend, test).await else {
        return;
    };
    let url = &db.url;
    cli_ok(url, &["migrate"]).await;
    cli_ok(url, &["sites", "add", "shop.example"]).await;
    let (hook, seen) = receiver().await;
    let _watch = watch(url, &["--webhook", &hook]);

    // The current state of each site first.
    let first = until_events(&seen, 2).await;
    assert!(first.iter().all(|(_, state)| state == "off"), "{first:?}");
    let kinds: Vec<String> = seen.events.lock().unwrap()[..2]
        .iter()
        .map(|(_, e)| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["current", "current"]);

    cli_ok(
        url,
        &["on", "--site", "shop.example", "--message", "Moving"],
    )
    .await;
    let events = until_events(&seen, 3).await;
    assert!(events[2].0.starts_with("shop.example@"), "{events:?}");
    assert_eq!(events[2].1, "active");
    {
        let all = seen.events.lock().unwrap();
        assert_eq!(all[2].1["previous"], "off");
        assert_eq!(all[2].1["message"], "Moving");
        assert_eq!(all[2].1["kind"], "changed");
    }

    // The receiver goes down; two changes are made meanwhile; both arrive once it is back,
    // in order, the final state last.
    seen.down.store(true, Ordering::SeqCst);
    cli_ok(url, &["off", "--site", "shop.example"]).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    cli_ok(url, &["on", "--site", "shop.example", "--read-only"]).await;
    let refused_before = seen.attempts.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        seen.attempts.load(Ordering::SeqCst) > refused_before,
        "retried while the receiver was down"
    );
    assert_eq!(
        seen.events.lock().unwrap().len(),
        3,
        "nothing accepted while down"
    );
    seen.down.store(false, Ordering::SeqCst);
    let events = until_events(&seen, 5).await;
    assert_eq!(events[3].1, "off");
    assert_eq!(events[4].1, "active");
    assert_eq!(seen.events.lock().unwrap()[4].1["mode"], "read-only");
    assert_eq!(
        seen.forged.load(Ordering::SeqCst),
        0,
        "every signature checked"
    );
    // Each event once.
    let ids: std::collections::BTreeSet<&String> = events.iter().map(|e| &e.0).collect();
    assert_eq!(ids.len(), events.len(), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_on_sqlite() {
    webhook_deliveries(Backend::Sqlite, "webhook_deliveries_on_sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_on_postgres() {
    webhook_deliveries(Backend::Postgres, "webhook_deliveries_on_postgres").await;
}

/// `--exec` gets each event on its standard input, and a window that starts and ends with
/// no write makes its events all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_gets_every_event_and_windows_need_no_write() {
    let Some(db) = fresh_db(Backend::Sqlite, "exec_gets_every_event").await else {
        return;
    };
    let url = &db.url;
    cli_ok(url, &["migrate"]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.jsonl");
    let cmd = format!("cat >> '{}'", out.display());
    let _watch = watch(url, &["--exec", &cmd, "--site", "default"]);
    let lines = |n: usize| {
        let out = out.clone();
        async move {
            for _ in 0..400 {
                let text = std::fs::read_to_string(&out).unwrap_or_default();
                let events: Vec<serde_json::Value> = text
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
                if events.len() >= n {
                    return events;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("fewer than {n} events in {}", out.display());
        }
    };
    let first = lines(1).await;
    assert_eq!(first[0]["state"], "off");
    assert_eq!(first[0]["kind"], "current");

    // A window from in six seconds (time enough for the command and the first look, even on a
    // loaded machine, so that it is seen scheduled first), for two seconds.
    let start = chrono::Utc::now() + chrono::Duration::seconds(6);
    let from = start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    cli_ok(url, &["on", "--from", &from, "--for", "2s"]).await;
    let events = lines(4).await;
    let states: Vec<&str> = events
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["off", "scheduled", "active", "off"]);
    // The last two came with no write: the same revision.
    assert_eq!(events[2]["revision"], events[1]["revision"]);
    assert_eq!(events[3]["revision"], events[1]["revision"]);
    assert_ne!(events[2]["id"], events[3]["id"]);
}

/// A started `watch` says what it watches and warns of nothing (it decides no request).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_starts_quietly() {
    let Some(db) = fresh_db(Backend::Sqlite, "watch_starts_quietly").await else {
        return;
    };
    let url = &db.url;
    cli_ok(url, &["migrate"]).await;
    let mut child = tokio::process::Command::new(common::BIN)
        .args(["--database-url", url, "watch", "--exec", "true"])
        .env_remove("DATABASE_URL")
        .env("MAINTENANCE_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    child.start_kill().unwrap();
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("Watching every site"), "{stdout}");
    assert!(stdout.contains("delivered default@"), "{stdout}");
    assert!(stderr.trim().is_empty(), "no warning: {stderr}");
}

#[tokio::test]
async fn bad_arguments_are_usage_errors() {
    let Some(db) = fresh_db(Backend::Sqlite, "watch_bad_arguments").await else {
        return;
    };
    let url = &db.url;
    cli_ok(url, &["migrate"]).await;
    fails(&cli(url, &["watch"]), 2, &["--exec", "--webhook"]);
    fails(
        &cli(url, &["watch", "--webhook", "ftp://example.com/hook"]),
        2,
        &["http://"],
    );
    fails(
        &common::cli_env(
            url,
            &["watch", "--webhook", "http://127.0.0.1:9/hook"],
            &[],
            &["MAINTENANCE_WEBHOOK_SECRET"],
        ),
        2,
        &["MAINTENANCE_WEBHOOK_SECRET"],
    );
    fails(
        &cli(
            url,
            &["watch", "--exec", "true", "--site", "nowhere.example"],
        ),
        2,
        &["nowhere.example"],
    );
    fails(
        &cli(url, &["watch", "--exec", "true", "--tag", "nobody"]),
        2,
        &["nobody"],
    );
    fails(
        &cli(url, &["watch", "--exec", "true", "--tag", "Not a tag!"]),
        2,
        &["Not a tag!"],
    );
}

/// `--tag`: only the sites of the tag, as they are tagged and untagged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_selects_the_sites_it_is_on() {
    let Some(db) = fresh_db(Backend::Sqlite, "watch_a_tag").await else {
        return;
    };
    let url = &db.url;
    cli_ok(url, &["migrate"]).await;
    cli_ok(url, &["sites", "add", "eu1.example"]).await;
    cli_ok(url, &["sites", "add", "us1.example"]).await;
    cli_ok(url, &["sites", "tag", "add", "eu1.example", "eu"]).await;
    let (hook, seen) = receiver().await;
    let _watch = watch(url, &["--webhook", &hook, "--tag", "eu"]);
    let first = until_events(&seen, 1).await;
    assert!(first[0].0.starts_with("eu1.example@"), "{first:?}");

    cli_ok(url, &["on", "--site", "us1.example"]).await;
    cli_ok(url, &["on", "--tag", "eu"]).await;
    let events = until_events(&seen, 2).await;
    assert!(events[1].0.starts_with("eu1.example@"), "{events:?}");
    assert_eq!(events[1].1, "active");
    // Tagged later: it joins, in its current state.
    cli_ok(url, &["sites", "tag", "add", "us1.example", "eu"]).await;
    let events = until_events(&seen, 3).await;
    assert!(events[2].0.starts_with("us1.example@"), "{events:?}");
    assert_eq!(seen.events.lock().unwrap()[2].1["kind"], "added");
    assert_eq!(
        events.len(),
        3,
        "nothing of us1.example before it was tagged: {events:?}"
    );
}
