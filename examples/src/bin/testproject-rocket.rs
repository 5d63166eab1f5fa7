//! The test project on rocket. Configured by environment: `DATABASE_URL` (default
//! `sqlite://maintenance.db`, migrated at start), `BIND` (default `127.0.0.1:3000`),
//! `INTERNAL_IPS`, `TRUSTED_PROXIES`, `BLOCK_STAFF=1`, `MAINTENANCE_LAYER=off`, and the
//! start-up settings (`MAINTENANCE_FAIL_MODE`, `MAINTENANCE_MIGRATE`,
//! `MAINTENANCE_STARTUP_WAIT_MS`) listed in `examples/README.md`. No
//! `Rocket.toml` and no `ROCKET_*` variables are read: the address comes from `BIND`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use maintenance_examples::{rocket_app, run_main};

// Rocket's own runtime (multi-threaded Tokio, as `#[tokio::main]`), which its forced shutdown
// expects.
#[rocket::main]
async fn main() -> ExitCode {
    // As the other test projects, but rocket's line per request only with
    // `RUST_LOG=rocket=info`.
    let log_filter = "info,rocket::server=warn,rocket::shield=warn";
    run_main("testproject-rocket", log_filter, async |config| {
        let rocket_config = rocket_app::rocket_config(config.bind, false);
        let (rocket, _maintenance) = rocket_app::build(&config, rocket_config).await?;
        config.log_serving("testproject-rocket", "starting on");
        // Rocket's error must be displayed (or it panics when dropped): turn it into text.
        rocket
            .launch()
            .await
            .map_err(|e| format!("cannot serve on {}: {e}", config.bind))?;
        Ok(())
    })
    .await
}
