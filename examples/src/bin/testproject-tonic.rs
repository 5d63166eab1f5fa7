//! The test project on tonic: `helloworld.Greeter/SayHello` and `grpc.health.v1.Health`, on
//! `127.0.0.1:50051` unless `BIND` says otherwise, with the same environment as the other test
//! projects (`DATABASE_URL`, `INTERNAL_IPS`, `TRUSTED_PROXIES`, `MAINTENANCE_MIGRATE`, ...,
//! listed in `examples/README.md`).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use maintenance_examples::{LOG_FILTER, listen, run_main, tonic_app};

#[tokio::main]
async fn main() -> ExitCode {
    run_main("testproject-tonic", LOG_FILTER, async |mut config| {
        if std::env::var_os("BIND").is_none() {
            config.bind = tonic_app::DEFAULT_BIND;
        }
        let (app, _maintenance) = tonic_app::build(&config).await?;
        let listener = listen(config.bind).await?;
        config.log_serving("testproject-tonic", "listening on");
        tonic_app::serve(listener, app).await?;
        Ok(())
    })
    .await
}
