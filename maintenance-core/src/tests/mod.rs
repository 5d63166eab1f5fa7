//! Unit tests of the decision, the live handle, and properties of the parsers: the helpers
//! they share, and one module per topic.

use std::net::IpAddr;

use chrono::{DateTime, TimeZone, Utc};

use crate::adapter::*;
use crate::bypass::hash_secret;
use crate::host::*;
use crate::pattern::*;
use crate::response::*;
use crate::snapshot::*;
use crate::*;

mod bypass;
mod decision;
mod django_testproject;
mod handle;
mod methods;
mod networks;
mod paths;
mod properties;
mod scope;
mod sites;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).unwrap()
}

const NOW: i64 = 1_800_000_000;

fn site(id: i64, domain: &str) -> SiteState {
    let mut s = SiteState::new(id, domain);
    s.enabled = true;
    s
}

fn default_site() -> SiteState {
    let mut s = site(1, "default");
    s.is_default = true;
    s
}

fn snap(sites: Vec<SiteState>) -> Snapshot {
    Snapshot::new(1, sites)
}

struct Req {
    method: &'static str,
    path: &'static str,
    host: Option<&'static str>,
    peer: Option<&'static str>,
    headers: Vec<(&'static str, String)>,
}

impl Req {
    fn get(path: &'static str) -> Self {
        Req {
            method: "GET",
            path,
            host: None,
            peer: Some("203.0.113.50"),
            headers: Vec::new(),
        }
    }
    fn method(mut self, m: &'static str) -> Self {
        self.method = m;
        self
    }
    fn host(mut self, h: &'static str) -> Self {
        self.host = Some(h);
        self
    }
    fn peer(mut self, p: Option<&'static str>) -> Self {
        self.peer = p;
        self
    }
    /// A `GET /` from `peer` with one `X-Forwarded-For` line.
    fn forwarded(peer: &'static str, line: &str) -> Self {
        Req::get("/")
            .peer(Some(peer))
            .header("x-forwarded-for", line)
    }
    fn header(mut self, k: &'static str, v: impl Into<String>) -> Self {
        self.headers.push((k, v.into()));
        self
    }
    fn build(&self) -> http::Request<()> {
        let mut b = http::Request::builder().method(self.method).uri(self.path);
        if let Some(h) = self.host {
            b = b.header("host", h);
        }
        for (k, v) in &self.headers {
            b = b.header(*k, v.as_str());
        }
        let mut r = b.body(()).unwrap();
        if let Some(p) = self.peer {
            r.extensions_mut()
                .insert(PeerAddr(p.parse::<IpAddr>().unwrap()));
        }
        r
    }
}

fn run(snapshot: &Snapshot, policy: &Policy, req: &Req, who: Identity) -> Decision {
    decide(Some(snapshot), policy, &req.build(), who, t(NOW))
}

/// The decision on an anonymous `req` built by hand, with the default policy.
fn decide_now(snapshot: &Snapshot, req: &http::Request<()>) -> Decision {
    decide(
        Some(snapshot),
        &Policy::default(),
        req,
        Identity::Anonymous,
        t(NOW),
    )
}

/// The default policy but for its internal networks and trusted proxies.
fn networks_policy(internal: &[&str], proxies: &[&str]) -> Policy {
    Policy::builder()
        .internal_networks(internal)
        .trusted_proxies(proxies)
        .build()
        .unwrap()
}

/// Asserts that an anonymous `GET` of each of `paths`, built by hand, is blocked.
fn assert_each_blocked(snapshot: &Snapshot, paths: &[&str]) {
    for path in paths {
        let req = http::Request::builder().uri(*path).body(()).unwrap();
        let d = decide_now(snapshot, &req);
        assert!(matches!(d, Decision::Block(_)), "{path}: {d:?}");
    }
}

/// [`run`] for an anonymous client.
fn run_anon(snapshot: &Snapshot, policy: &Policy, req: &Req) -> Decision {
    run(snapshot, policy, req, Identity::Anonymous)
}

/// The decision for an anonymous `GET /` from `peer`.
fn run_from(snapshot: &Snapshot, policy: &Policy, peer: &'static str) -> Decision {
    run_anon(snapshot, policy, &Req::get("/").peer(Some(peer)))
}

fn allowed(d: &Decision) -> Option<AllowReason> {
    match d {
        Decision::Allow(r) => Some(*r),
        _ => None,
    }
}

fn block(d: Decision) -> Block {
    match d {
        Decision::Block(b) => b,
        other => panic!("expected a block, got {other:?}"),
    }
}

fn secret_site() -> (Snapshot, &'static str) {
    let mut s = default_site();
    s.bypass_secret_hash = Some(hash_secret("open-sesame"));
    (snap(vec![s]), "open-sesame")
}
