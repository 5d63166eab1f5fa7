//! The cost of one decision against a realistic snapshot: 100 sites, the chosen one with 50
//! ignored patterns and 20 allowed networks. A second group (`decide_100k`) decides against a
//! snapshot of 100,000 sites, every one in maintenance with 5 ignored patterns and 2 allowed
//! networks of its own (patterns are compiled on a site's first check, so building it is
//! quick; the chosen site's set is compiled by the warm-up). A third group (`snapshot`) times
//! what a refresh costs: a whole snapshot built, one brought up to date after a one-site
//! change, and the compile of a site's patterns on its first check.
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::IpAddr;

use chrono::{DateTime, TimeZone, Utc};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use maintenance_core::{
    AllowedNetwork, Decision, Identity, IgnoredPath, Policy, SiteState, adapter::PeerAddr, decide,
    snapshot::Snapshot,
};

fn snapshot() -> Snapshot {
    let mut sites = Vec::new();
    for i in 0..100 {
        let mut s = SiteState::new(i, format!("site{i}.example.com"));
        s.is_default = i == 0;
        s.enabled = true;
        if i == 42 {
            s.ignored_paths = (0..50)
                .map(|p| IgnoredPath {
                    pattern: format!("^section{p}/(page|item)/[0-9]+/$"),
                    description: String::new(),
                })
                .collect();
            s.allowed_networks = (0..20)
                .map(|n| AllowedNetwork {
                    network: format!("10.{n}.0.0/16").parse().expect("cidr"),
                    description: String::new(),
                })
                .collect();
        }
        sites.push(s);
    }
    Snapshot::new(1, sites)
}

/// The site with patterns and networks in the snapshot of 100,000 sites.
const BIG_CHOSEN: i64 = 77_777;

/// A site like the scale benchmark's (`bench/scale.py`): 5 patterns and 2 networks of its own.
fn scale_site(i: i64) -> SiteState {
    let mut s = SiteState::new(i, format!("site{i}.example.com"));
    s.is_default = i == 0;
    s.enabled = true;
    s.ignored_paths = (0..5)
        .map(|k| IgnoredPath {
            pattern: format!("^site{i}/section{k}/[0-9]+/$"),
            description: String::new(),
        })
        .collect();
    s.allowed_networks = [
        format!("{}.{}.{}.0/24", 10 + i / 65536, (i / 256) % 256, i % 256),
        format!("fd00:0:{:x}:{:x}::/64", i / 10000, i % 10000),
    ]
    .iter()
    .map(|n| AllowedNetwork {
        network: n.parse().expect("cidr"),
        description: String::new(),
    })
    .collect();
    s
}

fn snapshot_100k() -> Snapshot {
    Snapshot::new(1, (0..100_000).map(scale_site).collect())
}

fn request(path: &str, peer: [u8; 4]) -> http::Request<()> {
    request_for("site42.example.com", path, peer)
}

fn request_for(host: &str, path: &str, peer: [u8; 4]) -> http::Request<()> {
    let mut req = http::Request::builder()
        .uri(path)
        .header("host", host)
        .header(
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        )
        .header("cookie", "sessionid=abc; theme=dark")
        .body(())
        .expect("request");
    req.extensions_mut().insert(PeerAddr(IpAddr::from(peer)));
    req
}

/// The time every decision is made at.
fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 0).single().expect("time")
}

/// The policy of the decision groups: two internal networks.
fn decision_policy() -> Policy {
    Policy::builder()
        .internal_networks(["127.0.0.1", "192.168.0.0/16"])
        .build()
        .expect("policy")
}

/// Times one anonymous decision on `req` against `snap`, at a fixed time.
fn bench_decision(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    snap: &Snapshot,
    policy: &Policy,
    req: &http::Request<()>,
) {
    let now = now();
    group.bench_function(name, |b| {
        b.iter(|| {
            let d = decide(
                Some(black_box(snap)),
                policy,
                black_box(req),
                Identity::Anonymous,
                now,
            );
            black_box(matches!(d, Decision::Allow(_)))
        })
    });
}

fn bench(c: &mut Criterion) {
    let snap = snapshot();
    let policy = decision_policy();
    let cases = [
        (
            "block (nothing matches)",
            request("/shop/cart/", [203, 0, 113, 9]),
        ),
        (
            "allow (ignored path, pattern 50 of 50)",
            request("/section49/item/7/", [203, 0, 113, 9]),
        ),
        (
            "allow (allowed network 20 of 20)",
            request("/shop/cart/", [10, 19, 1, 1]),
        ),
        (
            "allow (internal network)",
            request("/shop/cart/", [127, 0, 0, 1]),
        ),
    ];
    let mut group = c.benchmark_group("decide");
    for (name, req) in &cases {
        bench_decision(&mut group, name, &snap, &policy, req);
    }
    let mut off = snapshot();
    off = Snapshot::new(
        2,
        off.sites()
            .map(|s| {
                let mut st = s.state().clone();
                st.enabled = false;
                st
            })
            .collect(),
    );
    let req = request("/shop/cart/", [203, 0, 113, 9]);
    bench_decision(
        &mut group,
        "allow (site not in maintenance)",
        &off,
        &policy,
        &req,
    );
    group.finish();
}

fn bench_100k(c: &mut Criterion) {
    let snap = snapshot_100k();
    let policy = decision_policy();
    let host = format!("site{BIG_CHOSEN}.example.com");
    let cases = [
        (
            "block (nothing matches)",
            request_for(&host, "/shop/cart/", [203, 0, 113, 9]),
        ),
        (
            "allow (ignored path, pattern 5 of 5)",
            request_for(
                &host,
                &format!("/site{BIG_CHOSEN}/section4/7/"),
                [203, 0, 113, 9],
            ),
        ),
        (
            "allow (allowed network 1 of 2)",
            // Site 77,777's first network is 11.47.209.0/24.
            request_for(&host, "/shop/cart/", [11, 47, 209, 9]),
        ),
    ];
    let mut group = c.benchmark_group("decide_100k");
    for (name, req) in &cases {
        bench_decision(&mut group, name, &snap, &policy, req);
    }
    group.finish();
}

/// What a refresh costs a server: building a whole snapshot, bringing one up to date after a
/// one-site change, and the compile a site's first path check pays.
fn bench_snapshot(c: &mut Criterion) {
    use criterion::BatchSize;
    use maintenance_core::store::StoreChanges;

    let mut group = c.benchmark_group("snapshot");
    group.sample_size(20);
    for n in [10_000_i64, 100_000] {
        let sites: Vec<SiteState> = (0..n).map(scale_site).collect();
        let snap = Snapshot::new(1, sites.clone());
        group.bench_function(format!("build, {n} sites"), |b| {
            b.iter_batched(
                || sites.clone(),
                |sites| black_box(Snapshot::new(1, sites)),
                BatchSize::LargeInput,
            )
        });
        group.bench_function(format!("apply one changed site, {n} sites"), |b| {
            b.iter_batched(
                || {
                    let mut changed = scale_site(n / 2);
                    changed.enabled = false;
                    StoreChanges {
                        revision: 2,
                        changed: vec![changed],
                        removed: vec![],
                    }
                },
                |changes| black_box(snap.apply(changes)),
                BatchSize::SmallInput,
            )
        });
    }
    let policy = Policy::default();
    let now = now();
    let req = request_for("site7.example.com", "/shop/cart/", [203, 0, 113, 9]);
    group.bench_function("first check of a site (compiles its 5 patterns)", |b| {
        b.iter_batched(
            || Snapshot::new(1, vec![scale_site(7)]),
            |snap| {
                let d = decide(Some(&snap), &policy, &req, Identity::Anonymous, now);
                black_box(matches!(d, Decision::Allow(_)))
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench, bench_100k, bench_snapshot);
criterion_main!(benches);
