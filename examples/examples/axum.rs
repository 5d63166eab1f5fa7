//! maintenance-rs on axum, the whole set-up to copy: the handle started on a database that may
//! be down, the layer around the router, and the peer address internal networks need.
//!
//! Run it with `cargo run -p maintenance-examples --example axum`, then turn maintenance on and
//! off with `cargo run -p maintenance-cli -- on` (and `off`) on the same `DATABASE_URL`, and
//! watch `curl -i http://127.0.0.1:3000/` answer 503 and 200.
use std::net::SocketAddr;

use axum::{Router, routing::get};
use maintenance_axum::MaintenanceLayer;
use maintenance_core::Policy;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://maintenance.db".into());
    // Clients in these networks always pass; `^admin` is ignored on every site by default.
    let policy = Policy::builder()
        .internal_networks(["10.0.0.0/8"])
        .build()?;
    // Serves at once (the fail mode) while the database is down, migrates when it answers.
    let maintenance = maintenance_sqlx::Startup::new(url).start(policy).await?;

    let app = Router::new()
        .route("/", get(|| async { "Hello" }))
        .route("/admin/", get(|| async { "The admin stays reachable" }))
        .layer(MaintenanceLayer::new(maintenance));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    // `with_connect_info` gives the layer the peer address: without it no network matches.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
