//! The test project on axum. Configured by environment: `DATABASE_URL` (default
//! `sqlite://maintenance.db`, migrated at start), `BIND` (default `127.0.0.1:3000`),
//! `INTERNAL_IPS`, `TRUSTED_PROXIES`, `BLOCK_STAFF=1`, `MAINTENANCE_LAYER=off`, and the
//! start-up settings (`MAINTENANCE_FAIL_MODE`, `MAINTENANCE_MIGRATE`,
//! `MAINTENANCE_STARTUP_WAIT_MS`) listed in `examples/README.md`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use maintenance_examples::{LOG_FILTER, axum_app, listen, run_main};

#[tokio::main]
async fn main() -> ExitCode {
    run_main("testproject-axum", LOG_FILTER, async |config| {
        let (router, _maintenance) = axum_app::build(&config).await?;
        let listener = listen(config.bind).await?;
        config.log_serving("testproject-axum", "listening on");
        axum_app::serve(listener, router).await?;
        Ok(())
    })
    .await
}
