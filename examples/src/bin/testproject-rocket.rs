//! The test project on rocket. Configured by environment: `DATABASE_URL` (default
//! `sqlite://maintenance.db`, migrated at start), `BIND` (default `127.0.0.1:3000`),
//! `INTERNAL_IPS`, `TRUSTED_PROXIES`, `BLOCK_STAFF=1`, `MAINTENANCE_LAYER=off`, and the
//! start-up settings (`MAINTENANCE_FAIL_MODE`, `MAINTENANCE_MIGRATE`,
//! `MAINTENANCE_STARTUP_WAIT_MS`) listed in `examples/README.md`. No
//! `Rocket.toml` and no `ROCKET_*` variables are read: the address comes from `BIND`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use maintenance_examples::{Config, rocket_app};

// Rocket's own runtime (multi-threaded Tokio, as `#[tokio::main]`), which its forced shutdown
// expects.
#[rocket::main]
async fn main() -> ExitCode {
    // As `init_logging`, but rocket's line per request only with `RUST_LOG=rocket=info`.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,rocket::server=warn,rocket::shield=warn")
    });
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let result = async {
        let config = Config::from_env()?;
        let rocket_config = rocket_app::rocket_config(config.bind, false);
        let (rocket, _maintenance) = rocket_app::build(&config, rocket_config).await?;
        tracing::info!(
            address = %config.bind,
            database = %maintenance_sqlx::redact_url(&config.database_url),
            maintenance_layer = config.layer,
            "testproject-rocket starting on http://{}/",
            config.bind
        );
        // Rocket's error must be displayed (or it panics when dropped): turn it into text.
        rocket
            .launch()
            .await
            .map_err(|e| format!("cannot serve on {}: {e}", config.bind))?;
        Ok::<(), Box<dyn std::error::Error>>(())
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "testproject-rocket: {:#}",
                maintenance_core::ErrorChain(&*e)
            );
            ExitCode::FAILURE
        }
    }
}
