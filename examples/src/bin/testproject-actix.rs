//! The test project on actix-web. Configured by environment: `DATABASE_URL` (default
//! `sqlite://maintenance.db`, migrated at start), `BIND` (default `127.0.0.1:3000`),
//! `INTERNAL_IPS`, `TRUSTED_PROXIES`, `BLOCK_STAFF=1`, `MAINTENANCE_LAYER=off`, and the
//! start-up settings (`MAINTENANCE_FAIL_MODE`, `MAINTENANCE_MIGRATE`,
//! `MAINTENANCE_STARTUP_WAIT_MS`) listed in `examples/README.md`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use maintenance_examples::actix_app::{self, ServerOptions};
use maintenance_examples::{LOG_FILTER, listen_std, run_main};

#[tokio::main]
async fn main() -> ExitCode {
    run_main("testproject-actix", LOG_FILTER, async |config| {
        let site = actix_app::build(&config).await?;
        let listener = listen_std(config.bind)?;
        config.log_serving("testproject-actix", "listening on");
        let options = ServerOptions {
            workers: None,
            handle_signals: true,
        };
        actix_app::server(listener, site, options)?.await?;
        Ok(())
    })
    .await
}
