//! The test project on plain hyper, reusing maintenance-core without an adapter. Same
//! environment as the other test projects (`DATABASE_URL`, `BIND`, `INTERNAL_IPS`,
//! `TRUSTED_PROXIES`, `BLOCK_STAFF`, `MAINTENANCE_LAYER`, and the start-up settings listed in
//! `examples/README.md`).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use maintenance_examples::{Config, Sessions, hyper_app, init_logging};

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let result = async {
        let config = Config::from_env()?;
        let maintenance = if config.layer {
            Some(config.start_maintenance().await?)
        } else {
            None
        };
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
        tracing::info!(address = %config.bind, "custom-hyper listening on http://{}/", config.bind);
        hyper_app::serve(listener, maintenance, Sessions::default()).await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("custom-hyper: {:#}", maintenance_core::ErrorChain(&*e));
            ExitCode::FAILURE
        }
    }
}
