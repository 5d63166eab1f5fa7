//! `maintenance relay`: keeps a NATS JetStream key-value bucket in step with the database,
//! for the servers that follow it with maintenance-nats.
//!
//! It follows the database as a server does (PostgreSQL's `NOTIFY`, or polling the revision)
//! and writes only the sites that changed; it reads everything at start, after any failure
//! and every few minutes. Its writes are compare-and-set on the revision they carry, so two
//! relays may run at once.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use maintenance_core::MaintenanceSource;
use maintenance_nats::Relay;

use crate::args::RelayArgs;
use crate::commands;
use crate::error::CliError;

/// Runs the relay until `shutdown` resolves (or, with `--once`, for one full round), and
/// prints what it does.
pub async fn serve(
    database_url: &str,
    args: &RelayArgs,
    shutdown: impl Future<Output = ()>,
) -> Result<(), CliError> {
    let database = maintenance_sqlx::redact_url(database_url);
    // Checked at once (a clear error on a bad URL or a database that does not answer), then
    // followed as a server follows it: one connection for its reads (and, on PostgreSQL, the
    // change feed's).
    commands::connect(database_url).await?;
    let store = maintenance_sqlx::connect_lazy(database_url).await?;
    let source: Arc<dyn MaintenanceSource> = Arc::new(store);
    let mut relay = Relay::connect(&args.nats_url, &args.bucket, source, database.clone()).await?;
    if args.once {
        let round = relay.resync().await?;
        println!(
            "Relayed `{database}` at revision {} to the bucket `{}`: {} site(s) written, {} removed, {} already there.",
            round.revision, args.bucket, round.written, round.removed, round.kept
        );
        return Ok(());
    }
    let metrics = match args.metrics_listen {
        Some(addr) => Some(serve_metrics(addr).await?),
        None => None,
    };
    println!(
        "Relaying `{database}` to the bucket `{}` on {} (Ctrl-C or SIGTERM stops it)",
        args.bucket, args.nats_url
    );
    if let Some(addr) = metrics {
        println!("Metrics on http://{addr}/metrics");
    }
    tokio::select! {
        () = relay.run() => {}
        () = shutdown => {}
    }
    Ok(())
}

/// Serves the relay's metrics at `/metrics` on `addr`; the address actually bound.
async fn serve_metrics(addr: SocketAddr) -> Result<SocketAddr, CliError> {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|e| CliError::Failed(format!("could not install the metrics recorder: {e}")))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| CliError::Failed(format!("could not listen on {addr} for metrics: {e}")))?;
    let bound = listener.local_addr().unwrap_or(addr);
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move { handle.render() }
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "the metrics server stopped");
        }
    });
    Ok(bound)
}
