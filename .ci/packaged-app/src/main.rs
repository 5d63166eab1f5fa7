//! Starts an axum server with the maintenance layer on a SQLite file that it shares with its
//! own sqlx migrations (run before ours and after), turns maintenance on through the store,
//! and checks over TCP that the home page answers 503. Exits 0 when all of that held.
use std::net::SocketAddr;

use axum::{Router, routing::get};
use maintenance_axum::MaintenanceLayer;
use maintenance_core::{Maintenance, MaintenanceStore, Policy, SiteRef, StateChange};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("packaged-app-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}?mode=rwc", dir.join("app.db").display());

    let pool = sqlx::SqlitePool::connect(&url).await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    let store = maintenance_sqlx::SqliteStore::new(pool.clone());
    store.migrate().await?;
    // A restart: the application's migrator again, after ours.
    sqlx::migrate!("./migrations").run(&pool).await?;

    store
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "ci")
        .await?;
    let maintenance = Maintenance::start(store, Policy::builder().build()?).await;
    // The other adapters and the diesel store build from their packages too.
    let _actix = maintenance_actix::MaintenanceMode::new(maintenance.clone());
    let _rocket = maintenance_rocket::MaintenanceFairing::new(maintenance.clone());
    let _diesel = maintenance_diesel::connect(&url).await?;

    let app = Router::new()
        .route("/", get(|| async { "home" }))
        .layer(MaintenanceLayer::new(maintenance));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let make = app.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, make).await
    });

    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    std::fs::remove_dir_all(&dir)?;
    let status = answer.lines().next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 503") {
        return Err(format!("expected 503 in maintenance, got `{status}`").into());
    }
    println!("packaged-app: {status} while in maintenance");
    Ok(())
}
