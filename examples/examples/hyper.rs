//! maintenance-rs in a server of your own, on plain hyper with no adapter: the core's decision
//! asked once per request, its answer sent for a blocked one, and the bypass link that lets one
//! browser through while the site is down.
//!
//! Run it with `cargo run -p maintenance-examples --example hyper`, then turn maintenance on and
//! off with `cargo run -p maintenance-cli -- on` (and `off`) on the same `DATABASE_URL`, and
//! watch `curl -i http://127.0.0.1:3000/` answer 503 and 200. While it is on,
//! `cargo run -p maintenance-cli -- bypass new --base-url http://127.0.0.1:3000` prints a secret
//! and its link: the link sets a cookie that passes, as does the secret in an
//! `x-maintenance-bypass` header.
use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use maintenance_core::{Decision, Identity, Maintenance, Policy, adapter::WithPeer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://maintenance.db".into());
    // Bypass cookies are signed with a key every server shares (`openssl rand -hex 32`);
    // without one, anyone who can read the database could mint them (the handle warns).
    let mut policy = Policy::builder();
    if let Ok(key) = std::env::var("BYPASS_SIGNING_KEY") {
        policy = policy.bypass_signing_key(key);
    }
    let maintenance = maintenance_sqlx::Startup::new(url)
        .start(policy.build()?)
        .await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept().await?;
        let maintenance = maintenance.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let answer = answer(&maintenance, &req, peer.ip());
            async move { Ok::<_, Infallible>(answer) }
        });
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new();
            if let Err(e) = conn.serve_connection(TokioIo::new(stream), service).await {
                eprintln!("connection from {peer}: {e}");
            }
        });
    }
}

/// The decision first (no I/O: the state is in memory), then the application's own routes.
fn answer(
    m: &Maintenance,
    req: &Request<Incoming>,
    peer: std::net::IpAddr,
) -> Response<Full<Bytes>> {
    // The peer address lets a site's allowed networks match; a session would give the identity.
    let view = WithPeer::new(req, Some(peer));
    match m.check(&view, Identity::Anonymous) {
        Decision::Block(block) => m.blocked_response(&block, &view).map(Full::new),
        // The bypass link: its cookie and a redirect to `/`.
        Decision::Bypass(grant) => grant.to_response().map(|body| Full::new(Bytes::from(body))),
        // Allowed, and decisions a later release may add: serve the page.
        _ => Response::new(Full::new(Bytes::from_static(b"Hello"))),
    }
}
