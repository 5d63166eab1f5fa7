//! Many followers in one process, for `bench/fleet.py`: each a `Maintenance` handle with a
//! source of its own (its own NATS connection, or its own database connections on the direct
//! path), as that many servers would hold.
//!
//! Each time the default site's state changes, every follower notes when it saw the change;
//! once all have seen a revision (or 10 s have passed), one JSON line reports it:
//! `{"revision":R,"enabled":true,"seen":N,"of":M,"latencies_ms":[...]}`, each latency measured
//! from the site's `updated_at` (the time of the write, in the database's transaction) to the
//! moment the follower's handle had the new state.
//!
//! ```text
//! fleet-followers --nats-url nats://127.0.0.1:4222 --bucket maintenance --followers 250
//! fleet-followers --database-url postgres://postgres@127.0.0.1/bench --followers 40
//! ```
//!
//! It prints `ready <followers> <rss_kib_before> <rss_kib_after>` once every follower has
//! loaded, then a line per change until stdin closes.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use maintenance_core::chrono::Utc;
use maintenance_core::{Maintenance, Policy};

enum Source {
    Nats { url: String, bucket: String },
    Database { url: String },
}

/// What the followers saw of one revision.
#[derive(Default)]
struct Seen {
    enabled: bool,
    latencies_ms: Vec<f64>,
}

fn args() -> Result<(Source, usize), String> {
    let mut nats = None;
    let mut bucket = maintenance_nats::DEFAULT_BUCKET.to_owned();
    let mut database = None;
    let mut followers = 100;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--nats-url" => nats = Some(value()?),
            "--bucket" => bucket = value()?,
            "--database-url" => database = Some(value()?),
            "--followers" => {
                followers = value()?.parse().map_err(|e| format!("--followers: {e}"))?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let source = match (nats, database) {
        (Some(url), None) => Source::Nats { url, bucket },
        (None, Some(url)) => Source::Database { url },
        _ => return Err("give --nats-url or --database-url".to_owned()),
    };
    Ok((source, followers))
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

async fn follower(source: &Source, policy: Policy) -> Result<Maintenance, String> {
    match source {
        Source::Nats { url, bucket } => {
            let source = maintenance_nats::NatsSource::connect(url, bucket)
                .await
                .map_err(|e| maintenance_core::ErrorChain(&e).to_string())?
                .load_timeout(Duration::from_secs(30));
            Ok(Maintenance::start(source, policy).await)
        }
        Source::Database { url } => {
            let store = maintenance_sqlx::connect_lazy(url)
                .await
                .map_err(|e| maintenance_core::ErrorChain(&e).to_string())?;
            Ok(Maintenance::start(store, policy).await)
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let (source, count) = args()?;
    let policy = Policy::builder()
        .bypass_signing_key(b"fleet-bench-signing-key-0123456789abcdef".to_vec())
        .build()
        .map_err(|e| e.to_string())?;
    let before = rss_kib();
    let mut handles = Vec::with_capacity(count);
    for _ in 0..count {
        handles.push(follower(&source, policy.clone()).await?);
    }
    for h in &handles {
        while h.revision().is_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    println!("ready {count} {before} {}", rss_kib());
    let seen: Arc<Mutex<BTreeMap<i64, Seen>>> = Arc::default();
    for h in handles {
        let seen = Arc::clone(&seen);
        tokio::spawn(async move {
            let mut changes = h.watch();
            while changes.changed().await.is_ok() {
                let at = Utc::now();
                let Some(snapshot) = h.snapshot() else {
                    continue;
                };
                let Some(site) = snapshot.default_site() else {
                    continue;
                };
                let state = site.state();
                let latency = state.updated_at.map_or(f64::NAN, |u| {
                    (at - u).num_microseconds().unwrap_or(0) as f64 / 1000.0
                });
                let mut seen = seen
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let entry = seen.entry(snapshot.revision()).or_default();
                entry.enabled = state.enabled;
                entry.latencies_ms.push(latency);
            }
        });
    }
    // Reports each revision once all followers saw it, or 10 s after the first did.
    let mut first_seen: BTreeMap<i64, tokio::time::Instant> = BTreeMap::new();
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    tokio::pin!(stdin_closed);
    loop {
        tokio::select! {
            _ = &mut stdin_closed => return Ok(()),
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        let mut seen = seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let due: Vec<i64> = seen
            .iter()
            .filter(|(revision, s)| {
                let first = *first_seen
                    .entry(**revision)
                    .or_insert_with(tokio::time::Instant::now);
                s.latencies_ms.len() >= count || first.elapsed() > Duration::from_secs(10)
            })
            .map(|(r, _)| *r)
            .collect();
        for revision in due {
            if let Some(s) = seen.remove(&revision) {
                let line = serde_json::json!({
                    "revision": revision,
                    "enabled": s.enabled,
                    "seen": s.latencies_ms.len(),
                    "of": count,
                    "latencies_ms": s.latencies_ms,
                });
                println!("{line}");
            }
        }
    }
}
