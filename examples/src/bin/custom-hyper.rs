//! The test project on plain hyper, reusing maintenance-core without an adapter. Same
//! environment as the other test projects (`DATABASE_URL`, `BIND`, `INTERNAL_IPS`,
//! `TRUSTED_PROXIES`, `BLOCK_STAFF`, `MAINTENANCE_LAYER`, and the start-up settings listed in
//! `examples/README.md`).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use maintenance_examples::{LOG_FILTER, Sessions, hyper_app, listen, run_main};

#[tokio::main]
async fn main() -> ExitCode {
    run_main("custom-hyper", LOG_FILTER, async |config| {
        let maintenance = config.start_maintenance_if_layered().await?;
        let listener = listen(config.bind).await?;
        config.log_serving("custom-hyper", "listening on");
        hyper_app::serve(listener, maintenance, Sessions::default()).await?;
        Ok(())
    })
    .await
}
