//! The test project on axum. Configured by environment: `DATABASE_URL` (default
//! `sqlite://maintenance.db`, migrated at start), `BIND` (default `127.0.0.1:3000`),
//! `INTERNAL_IPS`, `TRUSTED_PROXIES`, `BLOCK_STAFF=1`, `MAINTENANCE_LAYER=off`, and the
//! start-up settings (`MAINTENANCE_FAIL_MODE`, `MAINTENANCE_MIGRATE`,
//! `MAINTENANCE_STARTUP_WAIT_MS`) listed in `examples/README.md`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use maintenance_examples::{Config, axum_app, init_logging};

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let result = async {
        let config = Config::from_env()?;
        let (router, _maintenance) = axum_app::build(&config).await?;
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
        tracing::info!(
            address = %config.bind,
            database = %maintenance_sqlx::redact_url(&config.database_url),
            maintenance_layer = config.layer,
            "testproject-axum listening on http://{}/",
            config.bind
        );
        axum_app::serve(listener, router).await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("testproject-axum: {:#}", maintenance_core::ErrorChain(&*e));
            ExitCode::FAILURE
        }
    }
}
