//! The cost of one decision against a realistic snapshot: 100 sites, the chosen one with 50
//! ignored patterns and 20 allowed networks. A second group (`decide_100k`) decides against a
//! snapshot of 100,000 sites, every one in maintenance, the chosen one with 5 ignored patterns
//! and 2 allowed networks (the others have none, to keep the setup short: the snapshot compiles
//! every site's patterns when it is built).
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::IpAddr;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use maintenance_core::{
    AllowedNetwork, Decision, Identity, IgnoredPath, PeerAddr, Policy, SiteState, Snapshot, decide,
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

fn snapshot_100k() -> Snapshot {
    let sites = (0..100_000)
        .map(|i| {
            let mut s = SiteState::new(i, format!("site{i}.example.com"));
            s.is_default = i == 0;
            s.enabled = true;
            if i == BIG_CHOSEN {
                s.ignored_paths = (0..5)
                    .map(|k| IgnoredPath {
                        pattern: format!("^site{i}/section{k}/[0-9]+/$"),
                        description: String::new(),
                    })
                    .collect();
                s.allowed_networks = ["10.1.47.0/24", "fd00:1:2f::/64"]
                    .iter()
                    .map(|n| AllowedNetwork {
                        network: n.parse().expect("cidr"),
                        description: String::new(),
                    })
                    .collect();
            }
            s
        })
        .collect();
    Snapshot::new(1, sites)
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

fn bench(c: &mut Criterion) {
    let snap = snapshot();
    let policy = Policy::builder()
        .internal_networks(["127.0.0.1", "192.168.0.0/16"])
        .build()
        .expect("policy");
    let now = Utc.timestamp_opt(1_800_000_000, 0).single().expect("time");
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
        group.bench_function(*name, |b| {
            b.iter(|| {
                let d = decide(
                    Some(black_box(&snap)),
                    &policy,
                    black_box(req),
                    Identity::Anonymous,
                    now,
                );
                black_box(matches!(d, Decision::Allow(_)))
            })
        });
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
    group.bench_function("allow (site not in maintenance)", |b| {
        let req = request("/shop/cart/", [203, 0, 113, 9]);
        b.iter(|| {
            let d = decide(
                Some(black_box(&off)),
                &policy,
                black_box(&req),
                Identity::Anonymous,
                now,
            );
            black_box(matches!(d, Decision::Allow(_)))
        })
    });
    group.finish();
}

fn bench_100k(c: &mut Criterion) {
    let snap = snapshot_100k();
    let policy = Policy::builder()
        .internal_networks(["127.0.0.1", "192.168.0.0/16"])
        .build()
        .expect("policy");
    let now = Utc.timestamp_opt(1_800_000_000, 0).single().expect("time");
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
            request_for(&host, "/shop/cart/", [10, 1, 47, 9]),
        ),
    ];
    let mut group = c.benchmark_group("decide_100k");
    for (name, req) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| {
                let d = decide(
                    Some(black_box(&snap)),
                    &policy,
                    black_box(req),
                    Identity::Anonymous,
                    now,
                );
                black_box(matches!(d, Decision::Allow(_)))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench, bench_100k);
criterion_main!(benches);
